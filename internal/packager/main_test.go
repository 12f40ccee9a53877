package packager_test

import (
	"flag"
	"fmt"
	"os"
	"testing"
)

// parallelTests is how many of the package's tests run at once unless
// -parallel says otherwise. Most of their time is spent waiting on the
// tools they run (pip, npm and uv downloading, sam build, go build), not
// computing, so a few more than a 2-core machine's GOMAXPROCS keep it
// busy; the default would leave it waiting.
const parallelTests = 4

func TestMain(m *testing.M) {
	flag.Parse()
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		if err := flag.Set("test.parallel", fmt.Sprint(max(parallelTests, flag.Lookup("test.parallel").Value.(flag.Getter).Get().(int)))); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
	}
	os.Exit(m.Run())
}
