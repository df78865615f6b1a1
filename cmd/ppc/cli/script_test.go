package cli

import (
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/policypilot/ppc/internal/flowgen"
	"github.com/policypilot/ppc/internal/memlimit"
	"github.com/policypilot/ppc/internal/testutil"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"ppc": func() { // as cmd/ppc's main runs it, the collector paced alike
			stop := memlimit.Start(memlimit.Floor, memlimit.Ceiling)
			code := Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
			stop()
			os.Exit(code)
		},
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
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			// padflow MiB FILE writes one valid flow record with MiB
			// mebibytes of whitespace inside its object, on one line.
			"padflow": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 2 {
					ts.Fatalf("usage: padflow MiB FILE")
				}
				n, err := strconv.Atoi(args[0])
				ts.Check(err)
				rec := `{"flow":{"verdict":"FORWARDED","IP":{"source":"10.0.0.1","destination":"10.0.0.2"},"l4":{"TCP":{"source_port":40000,"destination_port":8080,"flags":{"SYN":true}}},"source":{"namespace":"shop","labels":["k8s:app=web"]},"destination":{"namespace":"shop","labels":["k8s:app=api"]},"traffic_direction":"EGRESS"` +
					strings.Repeat(" ", n<<20) + "}}\n"
				ts.Check(os.WriteFile(ts.MkAbs(args[1]), []byte(rec), 0o644))
			},
			// scenario probe|plain CONNS FILE writes flowgen's ground-truth
			// capture of CONNS connections (seed 7), with or without the
			// pod that probes services it never otherwise talks to.
			"scenario": func(ts *testscript.TestScript, neg bool, args []string) {
				if neg || len(args) != 3 || args[0] != "probe" && args[0] != "plain" {
					ts.Fatalf("usage: scenario probe|plain CONNS FILE")
				}
				n, err := strconv.Atoi(args[1])
				ts.Check(err)
				f, err := os.Create(ts.MkAbs(args[2]))
				ts.Check(err)
				gen := flowgen.Scenario
				if args[0] == "probe" {
					gen = flowgen.ProbeScenario
				}
				_, err = gen(f, n, 7)
				ts.Check(err)
				ts.Check(f.Close())
			},
		},
		Setup: func(e *testscript.Env) error {
			e.Setenv("TESTDATA", testutil.Testdata())
			return nil
		},
	})
}
