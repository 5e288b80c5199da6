package tui

import (
	"fmt"
	"testing"
	"time"

	"itdr-onboard/checks"
	"itdr-onboard/steps"
	"itdr-onboard/ui/theme"
)

func TestZZDebug(t *testing.T) {
	st := theme.Plain()
	fmt.Println(renderSignIn(st, deviceSnap(t0, 14*time.Minute), steps.NewSession(steps.Options{}), 100, 30, t0))
	fmt.Println("-----")
	plan := roleChanges
	items := []steps.Item{{ID: "exo.role-group", Label: "Exchange role group", Outcome: checks.Fail, Summary: "Organization Management lacks 1 role", Remedy: "apply the plan"}}
	fmt.Println(renderRoles(st, steps.Snapshot{ID: steps.Roles, Status: steps.StatusWaiting, Line: "2 change(s) planned", Items: items, Detail: &steps.PlanDetail{Plan: plan}}, sessionWith(), 100, 30, t0))
}
