package main

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"os"
	"path/filepath"
	"slices"

	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// The charts are horizontal bar panels drawn with the standard library's
// image packages and x/image's built-in bitmap font: no plotting dependency.

var (
	white  = color.RGBA{255, 255, 255, 255}
	black  = color.RGBA{30, 30, 30, 255}
	grey   = color.RGBA{150, 150, 150, 255}
	light  = color.RGBA{235, 235, 235, 255}
	red    = color.RGBA{200, 40, 40, 255}
	colors = map[string]color.RGBA{
		"direct":    {120, 120, 120, 255},
		"clauderon": {40, 110, 200, 255},
		"baseline":  {150, 180, 225, 255},
		"tunnel":    {170, 170, 170, 255},
		"mitmproxy": {230, 140, 30, 255},
		"goproxy":   {60, 160, 90, 255},
	}
)

type bar struct {
	label string
	value float64
	text  string
}

type panel struct {
	title string
	bars  []bar
	ref   float64 // a vertical line (1.0x, a target); 0 for none
	refTx string
}

const (
	chartW   = 900
	labelW   = 110
	textW    = 150
	barH     = 18
	barGap   = 6
	titleH   = 26
	panelPad = 14
)

func panelHeight(p panel) int {
	return titleH + len(p.bars)*(barH+barGap) + panelPad + 12
}

func drawPanels(file, heading string, ps []panel) error {
	h := 34
	for _, p := range ps {
		h += panelHeight(p)
	}
	img := image.NewRGBA(image.Rect(0, 0, chartW, h))
	draw.Draw(img, img.Bounds(), &image.Uniform{white}, image.Point{}, draw.Src)
	text(img, 10, 20, heading, black)
	y := 34
	for _, p := range ps {
		drawPanel(img, y, p)
		y += panelHeight(p)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func drawPanel(img *image.RGBA, y0 int, p panel) {
	fill(img, image.Rect(0, y0, chartW, y0+1), light)
	text(img, 10, y0+18, p.title, black)
	maxV := p.ref
	for _, b := range p.bars {
		maxV = max(maxV, b.value)
	}
	if maxV <= 0 {
		maxV = 1
	}
	maxV *= 1.05
	x0, x1 := labelW, chartW-textW
	scale := func(v float64) int { return x0 + int(float64(x1-x0)*max(v, 0)/maxV) }
	y := y0 + titleH
	for _, b := range p.bars {
		text(img, 10, y+13, b.label, black)
		c, ok := colors[b.label]
		if !ok {
			c = grey
		}
		fill(img, image.Rect(x0, y, max(scale(b.value), x0+1), y+barH), c)
		text(img, scale(b.value)+6, y+13, b.text, black)
		y += barH + barGap
	}
	if p.ref > 0 {
		x := scale(p.ref)
		top, bottom := y0+titleH-4, y
		for yy := top; yy < bottom; yy += 2 {
			img.Set(x, yy, red)
		}
		text(img, x+4, bottom+10, p.refTx, red)
	}
}

func fill(img *image.RGBA, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, &image.Uniform{c}, image.Point{}, draw.Src)
}

func text(img *image.RGBA, x, y int, s string, c color.Color) {
	d := &font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13,
		Dot: fixed.P(x, y)}
	d.DrawString(s)
}

// drawCharts writes bench-ratios.png (every throughput and latency figure as
// a ratio to direct), bench-sse.png and bench-memory.png.
func drawCharts(dir string, s *summary) error {
	proxies := slices.DeleteFunc(slices.Clone(s.res.Targets), func(t string) bool { return t == "direct" })
	rel := func(key, title, refTx string) panel {
		p := panel{title: title, ref: 1, refTx: refTx}
		for _, t := range proxies {
			c := s.get(key, t)
			p.bars = append(p.bars, bar{t, c.Rel, fmt.Sprintf("%.2fx", c.Rel)})
		}
		return p
	}
	heading := fmt.Sprintf("clauderon-bench %s, %d cores, load %s: ratio to a direct TLS connection (median of %d rounds)",
		s.res.Info.Date, s.res.Info.Cores, s.res.Info.LoadBefore, len(s.res.Rounds["direct"]))
	ratios := []panel{
		rel("p50", fmt.Sprintf("Latency p50, one connection (direct %.3f ms; lower is better; target <= 1.7x)", s.get("p50", "direct").Value), "direct"),
		rel("p99", fmt.Sprintf("Latency p99 (direct %.3f ms; lower is better)", s.get("p99", "direct").Value), "direct"),
		rel("rps", fmt.Sprintf("64 concurrent clients, requests/s (direct %.0f; higher is better; target >= 0.5x)", s.get("rps", "direct").Value), "direct"),
		rel("down", fmt.Sprintf("Download throughput (direct %.0f MiB/s; higher is better)", s.get("down", "direct").Value), "direct"),
		rel("up", fmt.Sprintf("Upload throughput (direct %.0f MiB/s; higher is better)", s.get("up", "direct").Value), "direct"),
		rel("connps", fmt.Sprintf("New connections/s, CONNECT + TLS each (direct %.0f; higher is better; target >= 0.6x)", s.get("connps", "direct").Value), "direct"),
	}
	if err := drawPanels(filepath.Join(dir, "bench-ratios.png"), heading, ratios); err != nil {
		return err
	}
	sse := func(key, title string) panel {
		p := panel{title: title, ref: 1, refTx: "1 ms"}
		for _, t := range proxies {
			c := s.get(key, t)
			p.bars = append(p.bars, bar{t, c.Rel, fmt.Sprintf("%+.3f ms", c.Rel)})
		}
		return p
	}
	if err := drawPanels(filepath.Join(dir, "bench-sse.png"),
		"Server-sent events: extra delay per event over a direct connection, ms (lower is better; target p99 < 1 ms)",
		[]panel{sse("ssep50", "p50 extra delay per event"), sse("ssep99", "p99 extra delay per event")}); err != nil {
		return err
	}
	mem := panel{title: fmt.Sprintf("Proxy RSS per idle kept-alive connection, KiB (%d connections, intercepted; tunnel: relayed; target <= 32)",
		s.res.Params.IdleConns), ref: 32, refTx: "32 KiB"}
	for _, t := range proxies {
		v := s.get("rss", t).Value
		mem.bars = append(mem.bars, bar{t, v, fmt.Sprintf("%.1f KiB", v)})
	}
	return drawPanels(filepath.Join(dir, "bench-memory.png"), "Memory (lower is better)", []panel{mem})
}
