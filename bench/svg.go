package bench

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"math"
	"strconv"
)

// Series is one named row of values in a chart.
type Series struct {
	Name   string
	Values []float64 // NaN = no value (drawn as nothing)
}

// Chart geometry, in SVG user units.
const (
	chartW, chartH = 760, 420
	marginL        = 90
	marginR        = 20
	marginT        = 44
	marginB        = 90
)

var palette = []string{"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f"}

type svgWriter struct{ b bytes.Buffer }

func (s *svgWriter) printf(format string, a ...any) { fmt.Fprintf(&s.b, format, a...) }

func (s *svgWriter) text(x, y float64, anchor, extra, text string) {
	s.printf(`<text x="%.1f" y="%.1f" text-anchor="%s"%s>`, x, y, anchor, extra)
	_ = xml.EscapeText(&s.b, []byte(text))
	s.printf("</text>\n")
}

func (s *svgWriter) begin(title string) {
	s.printf(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n",
		chartW, chartH, chartW, chartH)
	s.printf(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	s.text(chartW/2, 24, "middle", ` font-size="15" font-weight="bold"`, title)
}

// niceMax returns a round number at or above v and its tick step.
func niceMax(v float64) (top, step float64) {
	if v <= 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return 1, 0.2
	}
	raw := v / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 2.5, 5, 10} {
		step = m * mag
		if step >= raw {
			break
		}
	}
	return math.Ceil(v/step) * step, step
}

// yAxis draws the y axis and grid; it returns a function mapping a value
// to a y coordinate. With logY the axis runs over whole decades.
func (s *svgWriter) yAxis(label string, maxV, minPos float64, logY bool) func(float64) float64 {
	y0, y1 := float64(chartH-marginB), float64(marginT)
	var f func(float64) float64
	var ticks []float64
	if logY {
		lo := math.Floor(math.Log10(math.Max(minPos, 1e-9)))
		hi := math.Ceil(math.Log10(math.Max(maxV, minPos*10)))
		if hi <= lo {
			hi = lo + 1
		}
		f = func(v float64) float64 {
			if v <= 0 {
				return y0
			}
			return y0 - (math.Log10(v)-lo)/(hi-lo)*(y0-y1)
		}
		for e := lo; e <= hi; e++ {
			ticks = append(ticks, math.Pow(10, e))
		}
	} else {
		top, step := niceMax(maxV)
		f = func(v float64) float64 { return y0 - v/top*(y0-y1) }
		for v := 0.0; v <= top*1.0001; v += step {
			ticks = append(ticks, v)
		}
	}
	for _, t := range ticks {
		y := f(t)
		s.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", marginL, y, chartW-marginR, y)
		s.text(marginL-6, y+4, "end", "", fmtNum(t))
	}
	s.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black"/>`+"\n", marginL, y0, marginL, y1)
	s.printf(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="black"/>`+"\n", marginL, y0, chartW-marginR, y0)
	s.text(18, (y0+y1)/2, "middle", fmt.Sprintf(` transform="rotate(-90 18 %.1f)"`, (y0+y1)/2), label)
	return f
}

// legend draws the series names under the plot.
func (s *svgWriter) legend(series []Series) {
	x := float64(marginL)
	y := float64(chartH - 22)
	for i, se := range series {
		s.printf(`<rect x="%.1f" y="%.1f" width="12" height="12" fill="%s"/>`+"\n", x, y-10, palette[i%len(palette)])
		s.text(x+16, y, "start", "", se.Name)
		x += 24 + 7.5*float64(len(se.Name))
	}
}

// fmtNum renders an axis or bar value compactly: 1200 -> 1.2k.
func fmtNum(v float64) string {
	a := math.Abs(v)
	switch {
	case a >= 1e6:
		return strconv.FormatFloat(math.Round(v/1e4)/100, 'f', -1, 64) + "M"
	case a >= 1e4:
		return strconv.FormatFloat(math.Round(v/100)/10, 'f', -1, 64) + "k"
	case a >= 100:
		return strconv.FormatFloat(math.Round(v), 'f', -1, 64)
	case a >= 1:
		return strconv.FormatFloat(math.Round(v*10)/10, 'f', -1, 64)
	default:
		return strconv.FormatFloat(v, 'g', 2, 64)
	}
}

func seriesRange(series []Series) (maxV, minPos float64) {
	minPos = math.Inf(1)
	for _, se := range series {
		for _, v := range se.Values {
			if math.IsNaN(v) {
				continue
			}
			maxV = math.Max(maxV, v)
			if v > 0 {
				minPos = math.Min(minPos, v)
			}
		}
	}
	if math.IsInf(minPos, 1) {
		minPos = 1
	}
	return maxV, minPos
}

// BarChart writes a grouped bar chart: one group per category, one bar per
// series in each group, the value printed above each bar.
func BarChart(w io.Writer, title, yLabel string, categories []string, series []Series, logY bool) error {
	var s svgWriter
	s.begin(title)
	maxV, minPos := seriesRange(series)
	y := s.yAxis(yLabel, maxV, minPos, logY)
	y0 := float64(chartH - marginB)
	plotW := float64(chartW - marginL - marginR)
	groupW := plotW / float64(max(len(categories), 1))
	barW := groupW * 0.8 / float64(max(len(series), 1))
	for ci, cat := range categories {
		gx := float64(marginL) + groupW*float64(ci) + groupW*0.1
		for si, se := range series {
			if ci >= len(se.Values) || math.IsNaN(se.Values[ci]) {
				continue
			}
			v := se.Values[ci]
			x := gx + barW*float64(si)
			top := y(v)
			s.printf(`<rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" fill="%s"><title>`, x, top, barW*0.92, math.Max(y0-top, 0), palette[si%len(palette)])
			_ = xml.EscapeText(&s.b, []byte(fmt.Sprintf("%s %s: %s", cat, se.Name, fmtNum(v))))
			s.printf("</title></rect>\n")
			s.text(x+barW*0.46, top-3, "middle", ` font-size="10"`, fmtNum(v))
		}
		s.text(gx+groupW*0.4, y0+16, "middle", "", cat)
	}
	if len(series) > 1 {
		s.legend(series)
	}
	s.printf("</svg>\n")
	_, err := w.Write(s.b.Bytes())
	return err
}

// LineChart writes a line chart of series over xs, with a log-2 x axis
// when logX (for connection counts) and a log-10 y axis when logY.
func LineChart(w io.Writer, title, xLabel, yLabel string, xs []float64, series []Series, logX, logY bool) error {
	var s svgWriter
	s.begin(title)
	maxV, minPos := seriesRange(series)
	y := s.yAxis(yLabel, maxV, minPos, logY)
	y0 := float64(chartH - marginB)
	x0, x1 := float64(marginL+20), float64(chartW-marginR-20)
	xf := func(v float64) float64 { return v }
	if logX {
		xf = func(v float64) float64 { return math.Log2(math.Max(v, 1e-9)) }
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range xs {
		lo, hi = math.Min(lo, xf(v)), math.Max(hi, xf(v))
	}
	if !(hi > lo) {
		hi = lo + 1
	}
	xpos := func(v float64) float64 { return x0 + (xf(v)-lo)/(hi-lo)*(x1-x0) }
	for _, v := range xs {
		s.printf(`<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="black"/>`+"\n", xpos(v), y0, xpos(v), y0+4)
		s.text(xpos(v), y0+16, "middle", "", fmtNum(v))
	}
	s.text((x0+x1)/2, y0+34, "middle", "", xLabel)
	for si, se := range series {
		color := palette[si%len(palette)]
		var pts bytes.Buffer
		for i, v := range se.Values {
			if i >= len(xs) || math.IsNaN(v) {
				continue
			}
			fmt.Fprintf(&pts, "%.1f,%.1f ", xpos(xs[i]), y(v))
			s.printf(`<circle cx="%.1f" cy="%.1f" r="3" fill="%s"><title>%s %s: %s</title></circle>`+"\n",
				xpos(xs[i]), y(v), color, xmlEscape(se.Name), fmtNum(xs[i]), fmtNum(v))
		}
		s.printf(`<polyline points="%s" fill="none" stroke="%s" stroke-width="2"/>`+"\n", bytes.TrimSpace(pts.Bytes()), color)
	}
	s.legend(series)
	s.printf("</svg>\n")
	_, err := w.Write(s.b.Bytes())
	return err
}

func xmlEscape(s string) string {
	var b bytes.Buffer
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}
