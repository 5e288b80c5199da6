package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"itdr-onboard/auth"
	"itdr-onboard/endpoints"
	"itdr-onboard/ui/text"
)

// newSignoutCmd is `signout`: remove the file token cache written by
// --token-cache file and say what was removed.
func newSignoutCmd(g *globalFlags, io IO) *cobra.Command {
	return &cobra.Command{
		Use:   "signout",
		Short: "Remove the saved sign-in (the --token-cache file in the state dir)",
		Long: `signout forgets the saved sign-in: it removes every account from the token cache
that --token-cache file keeps in the state dir (` + auth.CacheFileName + `, mode 0600)
and deletes the file. Tokens kept in memory (the default) end with each run, so
then there is nothing to remove.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			stateDir := g.stateDirOr(defaultStateDir())
			path := filepath.Join(stateDir, auth.CacheFileName)
			if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(io.Out, "No saved sign-in: %s does not exist, so there is nothing to remove.\n", path)
				fmt.Fprintln(io.Out, "(Tokens stay in memory and end with each run unless --token-cache file is used.)")
				return nil
			} else if err != nil {
				return fmt.Errorf("signout: %w", err)
			}
			// The endpoints only shape MSAL's authority; reading and clearing
			// the cache makes no network request.
			c, err := auth.New(auth.Options{Endpoints: endpoints.Global(), Cache: auth.CacheFile, StateDir: stateDir})
			if err != nil {
				return fmt.Errorf("signout: %w", err)
			}
			acct, hasAcct := c.Account()
			if err := c.SignOut(cmd.Context()); err != nil {
				return err
			}
			if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("signout: %s is still there; delete it by hand", path)
			}
			if hasAcct {
				fmt.Fprintf(io.Out, "Signed out %s (tenant %s).\n", text.Line(acct.Username), text.Line(acct.TenantID))
			} else {
				fmt.Fprintln(io.Out, "The token cache held no account.")
			}
			fmt.Fprintf(io.Out, "Removed the token cache %s (its refresh and access tokens are gone from this machine).\n", path)
			return nil
		},
	}
}
