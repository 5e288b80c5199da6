package checks

import (
	"itdr-onboard/m365"
	"itdr-onboard/platform"
)

// The real clients satisfy the consumer-side interfaces.
var (
	_ GraphAPI    = (*m365.Graph)(nil)
	_ ExchangeAPI = (*m365.Exchange)(nil)
	_ PlatformAPI = (*platform.Client)(nil)
)
