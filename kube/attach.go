package kube

import (
	"context"
	"io"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/remotecommand"

	"github.com/clauderon/clauderon"
)

// Attach connects to the terminal of an interactive pod (client-go attach
// with a TTY): reads return what the agent draws, writes are its keyboard
// input, Resize changes the terminal size. Output from before the attach is
// not replayed; a Resize makes full-screen agents redraw. ctx bounds the
// attaching; the terminal lasts until Close or the agent's end. A print-mode
// pod has no terminal: EINVALID says to use logs.
func (b *Backend) Attach(ctx context.Context, id string) (clauderon.Terminal, error) {
	ns, name, err := splitID(id)
	if err != nil {
		return nil, err
	}
	p, err := b.cs.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, b.wrap(err, "read pod "+name)
	}
	c := agentSpec(p)
	if c == nil || !c.TTY {
		return nil, clauderon.Errorf(clauderon.EINVALID, "pod %s runs in print mode and has no terminal: read its output with `clauderon logs`", name)
	}
	if st := containerStatus(p.Status.ContainerStatuses, agentContainer); st == nil || st.State.Running == nil {
		return nil, clauderon.Errorf(clauderon.ECONFLICT, "the agent of pod %s is not running", name)
	}
	ex, err := b.newExecutor(ns, name, "attach", &corev1.PodAttachOptions{Container: agentContainer, Stdin: true, Stdout: true, TTY: true})
	if err != nil {
		return nil, err
	}
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	t := &terminal{cancel: cancel, in: inW, out: outR, sizes: make(chan remotecommand.TerminalSize, 1), done: make(chan struct{})}
	go func() {
		err := ex.StreamWithContext(sctx, remotecommand.StreamOptions{Stdin: inR, Stdout: outW, Tty: true, TerminalSizeQueue: t})
		if err == nil {
			err = io.EOF
		}
		outW.CloseWithError(err)
		inR.Close()
		close(t.done)
	}()
	return t, nil
}

// terminal is an attached pod TTY. Read and Write may be used from
// different goroutines; Close ends the stream and unblocks a pending Read.
type terminal struct {
	cancel context.CancelFunc
	in     *io.PipeWriter
	out    *io.PipeReader
	sizes  chan remotecommand.TerminalSize
	done   chan struct{}
	once   sync.Once
}

func (t *terminal) Read(p []byte) (int, error)  { return t.out.Read(p) }
func (t *terminal) Write(p []byte) (int, error) { return t.in.Write(p) }

// Resize sets the terminal size the agent sees. Only the newest size waits
// to be sent.
func (t *terminal) Resize(ctx context.Context, cols, rows uint16) error {
	s := remotecommand.TerminalSize{Width: cols, Height: rows}
	for {
		select {
		case t.sizes <- s:
			return nil
		case <-t.done:
			return nil
		default:
			select {
			case <-t.sizes: // drop the stale size
			default:
			}
		}
	}
}

// Next is remotecommand.TerminalSizeQueue: nil ends the resize loop.
func (t *terminal) Next() *remotecommand.TerminalSize {
	select {
	case s := <-t.sizes:
		return &s
	case <-t.done:
		return nil
	}
}

// Close detaches; the agent keeps running.
func (t *terminal) Close() error {
	t.once.Do(func() {
		t.cancel()
		t.in.Close()
		t.out.Close()
	})
	return nil
}

func agentSpec(p *corev1.Pod) *corev1.Container {
	for i := range p.Spec.Containers {
		if p.Spec.Containers[i].Name == agentContainer {
			return &p.Spec.Containers[i]
		}
	}
	return nil
}
