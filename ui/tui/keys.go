package tui

import "charm.land/bubbles/v2/key"

// keyMap is every key the TUI understands; the help line shows the subset
// that works in the current state.
type keyMap struct {
	Interrupt key.Binding
	Quit      key.Binding
	Close     key.Binding

	// Sign-in.
	Copy     key.Binding
	CopyURL  key.Binding
	QR       key.Binding
	NewCode  key.Binding
	Browser  key.Binding
	Paste    key.Binding
	Submit   key.Binding
	Blur     key.Binding
	CancelSI key.Binding

	// Confirm.
	Yes   key.Binding
	No    key.Binding
	Enter key.Binding

	// Picker.
	Up     key.Binding
	Down   key.Binding
	PgUp   key.Binding
	PgDown key.Binding
	Home   key.Binding
	End    key.Binding
	Pick   key.Binding
	Move   key.Binding // the help line's entry for Up and Down
	Clear  key.Binding

	// Scroll is the help line's entry for a body that does not fit (the
	// keys are Up, Down, PgUp, PgDown, Home and End).
	Scroll key.Binding

	Retry  key.Binding
	Detach key.Binding

	// Journal opens and closes every step's results; Help the full key
	// map; Back closes what esc closes (never quits).
	Journal key.Binding
	Help    key.Binding
	Back    key.Binding
}

func newKeyMap() keyMap {
	b := func(keys []string, k, desc string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(k, desc))
	}
	return keyMap{
		Interrupt: b([]string{"ctrl+c"}, "ctrl+c", "quit"),
		Quit:      b([]string{"q"}, "q", "quit"),
		Close:     b([]string{"q", "enter"}, "q/enter", "close"),

		Copy:     b([]string{"c"}, "c", "copy"),
		CopyURL:  b([]string{"c"}, "c", "copy URL"),
		QR:       b([]string{"r"}, "r", "QR"),
		NewCode:  b([]string{"n"}, "n", "new code"),
		Browser:  b([]string{"b"}, "b", "browser"),
		Paste:    b([]string{"p"}, "p", "paste URL"),
		Submit:   b([]string{"enter"}, "enter", "submit"),
		Blur:     b([]string{"esc"}, "esc", "stop typing"),
		CancelSI: b([]string{"esc"}, "esc", "back"),

		Yes:   b([]string{"y", "Y"}, "y", "yes"),
		No:    b([]string{"n", "N"}, "n", "no"),
		Enter: b([]string{"enter"}, "enter", "default"),

		Up:     b([]string{"up", "ctrl+p"}, "↑", "up"),
		Down:   b([]string{"down", "ctrl+n"}, "↓", "down"),
		PgUp:   b([]string{"pgup"}, "pgup", "page up"),
		PgDown: b([]string{"pgdown"}, "pgdn", "page down"),
		Home:   b([]string{"home"}, "home", "first"),
		End:    b([]string{"end"}, "end", "last"),
		Pick:   b([]string{"enter"}, "enter", "pick"),
		Move:   b([]string{"up", "down"}, "↑↓", "move"),
		Clear:  b([]string{"esc"}, "esc", "clear filter"),
		Scroll: b([]string{"up", "down", "pgup", "pgdown", "home", "end"}, "↑↓/pgdn", "scroll"),

		Retry:  b([]string{"r"}, "r", "retry"),
		Detach: b([]string{"d"}, "d", "detach"),

		Journal: b([]string{"tab"}, "tab", "all steps"),
		Help:    b([]string{"?"}, "?", "help"),
		Back:    b([]string{"esc"}, "esc", "back"),
	}
}
