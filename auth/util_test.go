package auth

import (
	"encoding/json"
	"fmt"
	"strconv"
)

func itoa(n int) string { return strconv.Itoa(n) }

// fmtAll renders v every way a log line or a debug dump could.
func fmtAll(v any) string {
	j, _ := json.Marshal(v)
	return fmt.Sprintf("%v|%+v|%#v|%s|%q|%x|%d", v, v, v, v, v, v, v) + string(j)
}
