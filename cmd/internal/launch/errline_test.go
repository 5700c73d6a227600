package launch

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// TestPrintErrorMarksJournalLines: every line of the final error carries
// the err priority prefix when stderr is the journal, and none otherwise.
func TestPrintErrorMarksJournalLines(t *testing.T) {
	err := errors.Join(errors.New("nft not found in $PATH: install Debian package nftables"), errors.New("iptables not found"))
	var b strings.Builder
	printError(&b, true, "berth-launcher", err)
	want := "<3>berth-launcher: nft not found in $PATH: install Debian package nftables\n<3>iptables not found\n"
	if b.String() != want {
		t.Errorf("journal: %q, want %q", b.String(), want)
	}
	b.Reset()
	printError(&b, false, "berth-launcher", err)
	if strings.Contains(b.String(), "<3>") {
		t.Errorf("terminal: %q", b.String())
	}
}

// TestToJournal: $JOURNAL_STREAM names the file by device and inode; any
// other file is not the journal.
func TestToJournal(t *testing.T) {
	f, err := os.CreateTemp(t.TempDir(), "stream")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	t.Setenv("JOURNAL_STREAM", "")
	if toJournal(f) {
		t.Error("no JOURNAL_STREAM: journal")
	}
	t.Setenv("JOURNAL_STREAM", fmt.Sprintf("%d:%d", st.Dev, st.Ino))
	if !toJournal(f) {
		t.Error("JOURNAL_STREAM naming the file: not the journal")
	}
	if toJournal(os.Stdin) {
		t.Error("stdin taken for the journal stream")
	}
}
