package step

import (
	"fmt"
	"io"
	"sync"
	"time"
)

// Progress prints one line every interval while long work runs, so a user
// watching `tkn pipelinerun logs` sees it moving, and stays quiet otherwise.
type Progress struct {
	stop chan struct{}
	done sync.WaitGroup
	once sync.Once
}

// StartProgress calls report every interval and prints its line to w until
// Stop. report must be safe to call concurrently with the work (use atomics).
func StartProgress(w io.Writer, interval time.Duration, report func() string) *Progress {
	p := &Progress{stop: make(chan struct{})}
	p.done.Add(1)
	go func() {
		defer p.done.Done()
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-p.stop:
				return
			case <-t.C:
				fmt.Fprintln(w, report())
			}
		}
	}()
	return p
}

// Stop ends the reporting; it returns once no more lines will be printed.
func (p *Progress) Stop() {
	p.once.Do(func() { close(p.stop) })
	p.done.Wait()
}

// Rate formats bytes over a duration as a human rate (e.g. "12.3 MB/s").
func Rate(bytes int64, d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return HumanBytes(int64(float64(bytes)/d.Seconds())) + "/s"
}

// HumanBytes formats a byte count with a decimal unit.
func HumanBytes(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}
