package tui

import (
	"fmt"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

func resumeInfo() ResumeInfo {
	return ResumeInfo{Tenant: "Contoso Ltd (3f9c8f2e-6d0b-4c1e-9a57-1b2d3c4e5f60)", From: "2026-12-06 17:41:09",
		Done: []string{"Prerequisites", "Sign-in"}, Stopped: "Role fixes",
		Changes:      []string{"exo.role-group/Audit Logs", "exo.role-group/Transport Rules", "graph.sp/create"},
		Organization: "Contoso Ltd"}
}

// TestResumeScreen (issue 18): resume is a TUI screen listing what was
// done (each step and change) and what happens either way; it takes no
// answer before its end has been seen, enter does not answer, y resumes,
// n starts over, q quits. Golden at 80×24 and 60×15.
func TestResumeScreen(t *testing.T) {
	for _, sz := range goldenSizes {
		t.Run(fmt.Sprintf("%dx%d", sz.w, sz.h), func(t *testing.T) {
			m := newResumeModel(resumeInfo(), true)
			m.Update(tea.WindowSizeMsg{Width: sz.w, Height: sz.h})
			frame := m.render()
			ls := strings.Split(frame, "\n")
			if len(ls) > sz.h {
				t.Errorf("%d lines", len(ls))
			}
			for _, l := range ls {
				if ansi.StringWidth(l) > sz.w {
					t.Errorf("line too wide: %q", l)
				}
			}
			golden(t, fmt.Sprintf("resume-%dx%d", sz.w, sz.h), ansi.Strip(frame))
			_, atEnd := m.window()
			m.Update(keyMsg("enter"))
			if m.answer != "" {
				t.Fatal("enter answered the resume question")
			}
			m.Update(keyMsg("y"))
			if !atEnd {
				if m.answer != "" {
					t.Fatal("y answered before the end was shown")
				}
				m.Update(keyMsg("end"))
				golden(t, fmt.Sprintf("resume-end-%dx%d", sz.w, sz.h), ansi.Strip(m.render()))
				m.Update(keyMsg("y"))
			}
			if m.answer != ResumeYes {
				t.Errorf("answer %q, want resume", m.answer)
			}
		})
	}
	m := newResumeModel(resumeInfo(), true)
	m.Update(keyMsg("n"))
	if m.answer != ResumeNo || ResumeSummary(m.answer, resumeInfo()) != "Starting over." {
		t.Errorf("n: %q", m.answer)
	}
	m = newResumeModel(resumeInfo(), true)
	m.Update(keyMsg("q"))
	if m.answer != ResumeQuit {
		t.Errorf("q: %q", m.answer)
	}
}
