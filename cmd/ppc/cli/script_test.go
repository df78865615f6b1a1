package cli

import (
	"os"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/policypilot/ppc/internal/testutil"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ppc": func() { os.Exit(Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs the CLI scripts in testdata/script: every command and
// error path, as a user types them. PPC_UPDATE=1 rewrites their expected
// output files.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 testutil.Testdata() + "/script",
		RequireExplicitExec: true,
		RequireUniqueNames:  true,
		UpdateScripts:       testutil.Update(),
		Setup: func(e *testscript.Env) error {
			e.Setenv("TESTDATA", testutil.Testdata())
			return nil
		},
	})
}
