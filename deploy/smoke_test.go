package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The smoke script needs Docker, which the build machines lack; it is at
// least parsed, and a syntax error planted in a copy is caught.
func TestSmokeScriptParses(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		skipOrFail(t, "bash not installed")
	}
	script, err := os.ReadFile("smoke.sh")
	if err != nil {
		t.Fatal(err)
	}
	broken := filepath.Join(t.TempDir(), "broken.sh")
	if err := os.WriteFile(broken, []byte(strings.Replace(string(script), "\nfi\n", "\n", 1)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, file string
		wantOK     bool
	}{
		{"smoke.sh", "smoke.sh", true},
		{"copy without a fi", broken, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := exec.Command(bash, "-n", tt.file).CombinedOutput()
			if (err == nil) != tt.wantOK {
				t.Errorf("bash -n %s: err %v, output %q; want ok=%v", tt.name, err, out, tt.wantOK)
			}
		})
	}
	if !strings.HasPrefix(string(script), "#!/usr/bin/env bash\n") {
		t.Error("smoke.sh: want a #!/usr/bin/env bash first line")
	}
	if st, err := os.Stat("smoke.sh"); err != nil || st.Mode()&0o111 == 0 {
		t.Errorf("smoke.sh is not executable (%v)", err)
	}
}
