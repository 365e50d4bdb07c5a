package main

import (
	"fmt"
	"image/color"
	"math"
	"os"
	"strings"
	"time"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

var (
	serviceColour  = color.RGBA{R: 31, G: 119, B: 180, A: 255}
	baselineColour = color.RGBA{R: 150, G: 150, B: 150, A: 255}
	targetColour   = color.RGBA{R: 214, G: 39, B: 40, A: 255}
)

// shortLabel names a row on the chart's axis.
func shortLabel(x row) string {
	s := x.Scenario
	switch x.Kind {
	case "render":
		f := "webp"
		if strings.Contains(s, "avif") {
			f = "avif"
		}
		c := "1c"
		if strings.Contains(s, "2 client") {
			c = "2c"
		}
		s = f + " " + c
	case "hit":
		s = "hit"
	case "herd":
		s = "herd"
	case "catalog":
		s = "catalog"
	case "overload":
		s = "overload 200s"
	case "overload-503":
		s = "overload 503s"
	case "overload-hit":
		s = "hit in overload"
	}
	if x.Baseline {
		return s + " (base)"
	}
	return s
}

// writeChart draws latency percentiles per scenario (log scale) and each
// ratio against its target, side by side, as a PNG.
func writeChart(path string, r *results) error {
	lat := plot.New()
	lat.Title.Text = "Latency p50 (dot) to p99 (triangle), ms, log scale"
	lat.Y.Scale = plot.LogScale{}
	lat.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	lat.Y.Label.Text = "ms"
	var labels []string
	for _, x := range r.Rows {
		if x.P50 <= 0 || x.P99 <= 0 {
			continue
		}
		i := float64(len(labels))
		labels = append(labels, shortLabel(x))
		c := serviceColour
		if x.Baseline {
			c = baselineColour
		}
		p50, p99 := msf(x.P50), msf(x.P99)
		line, err := plotter.NewLine(plotter.XYs{{X: i, Y: p50}, {X: i, Y: p99}})
		if err != nil {
			return err
		}
		line.Color, line.Width = c, vg.Points(2)
		lo, err := plotter.NewScatter(plotter.XYs{{X: i, Y: p50}})
		if err != nil {
			return err
		}
		lo.Color, lo.Shape, lo.Radius = c, draw.CircleGlyph{}, vg.Points(3.5)
		hi, err := plotter.NewScatter(plotter.XYs{{X: i, Y: p99}})
		if err != nil {
			return err
		}
		hi.Color, hi.Shape, hi.Radius = c, draw.TriangleGlyph{}, vg.Points(4)
		lat.Add(line, lo, hi)
	}
	if len(labels) == 0 {
		return nil // no scenario gave latencies: nothing to draw
	}
	lat.NominalX(labels...)
	lat.X.Tick.Label.Rotation = math.Pi / 4
	lat.X.Tick.Label.XAlign = draw.XRight
	lat.Add(plotter.NewGrid())

	ratio := plot.New()
	ratio.Title.Text = "Service / baseline (bars) against the target (red)"
	var vals plotter.Values
	var targets plotter.XYs
	var names []string
	for _, x := range r.Rows {
		if x.Ratio <= 0 {
			continue
		}
		var t float64
		if _, err := fmt.Sscanf(x.Target, ">= %g", &t); err != nil {
			return fmt.Errorf("chart: target %q: %w", x.Target, err)
		}
		targets = append(targets, plotter.XY{X: float64(len(vals)), Y: t})
		vals = append(vals, x.Ratio)
		names = append(names, shortLabel(x))
	}
	if len(vals) > 0 {
		bars, err := plotter.NewBarChart(vals, vg.Points(22))
		if err != nil {
			return err
		}
		bars.Color, bars.LineStyle.Width = serviceColour, 0
		tgt, err := plotter.NewScatter(targets)
		if err != nil {
			return err
		}
		tgt.Color, tgt.Shape, tgt.Radius = targetColour, draw.BoxGlyph{}, vg.Points(4)
		ratio.Add(plotter.NewGrid(), bars, tgt)
		ratio.NominalX(names...)
		ratio.X.Tick.Label.Rotation = math.Pi / 4
		ratio.X.Tick.Label.XAlign = draw.XRight
		ratio.Y.Min, ratio.Y.Max = 0, math.Max(1.1, maxOf(vals)*1.05)
	}

	img := vgimg.New(vg.Points(1400), vg.Points(560))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(20), PadTop: vg.Points(10), PadBottom: vg.Points(10), PadLeft: vg.Points(10), PadRight: vg.Points(10)}
	canvases := plot.Align([][]*plot.Plot{{lat, ratio}}, tiles, dc)
	lat.Draw(canvases[0][0])
	ratio.Draw(canvases[0][1])
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func msf(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func maxOf(v plotter.Values) float64 {
	m := 0.0
	for _, x := range v {
		m = math.Max(m, x)
	}
	return m
}
