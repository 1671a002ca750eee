// Small charts on <canvas>, drawn by the page itself (no library, works offline), each with an
// accessible text summary: LineChart, one series over time (the Pi dashboard), and TimeChart,
// per-minute series as stacked bars or lines (the analytics page).

export class LineChart {
  constructor(canvas, { label, unit, min = 0, max = 100, color = "#2456d6", capacity = 120 }) {
    Object.assign(this, { canvas, label, unit, min, max, color, capacity, points: [] });
    this.canvas.setAttribute("role", "img");
    this.draw();
  }

  push(value, time = Date.now()) {
    if (typeof value !== "number" || !Number.isFinite(value)) return;
    this.points.push({ value, time });
    if (this.points.length > this.capacity) this.points.shift();
    this.draw();
  }

  draw() {
    const ratio = window.devicePixelRatio || 1;
    const width = this.canvas.clientWidth || 320;
    const height = this.canvas.clientHeight || 140;
    this.canvas.width = width * ratio;
    this.canvas.height = height * ratio;
    const g = this.canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, height);
    const pad = { left: 36, right: 10, top: 24, bottom: 18 };
    const values = this.points.map((p) => p.value);
    const low = Math.min(this.min, ...values);
    const high = Math.max(this.max, ...values);
    // The time axis spans the points kept (at least 30 slots), newest on the right.
    const span = Math.max(30, values.length);
    const x = (i) => pad.left + (i / Math.max(1, span - 1)) * (width - pad.left - pad.right);
    const y = (v) => height - pad.bottom - ((v - low) / (high - low || 1)) * (height - pad.top - pad.bottom);

    g.font = "12px system-ui, sans-serif";
    g.fillStyle = "#59606b";
    g.strokeStyle = "#e3e7ec";
    g.lineWidth = 1;
    for (const v of [low, (low + high) / 2, high]) {
      g.beginPath();
      g.moveTo(pad.left, y(v));
      g.lineTo(width - pad.right, y(v));
      g.stroke();
      g.fillText(String(Math.round(v)), 4, y(v) + 4);
    }
    const latest = values.at(-1);
    g.fillStyle = "#1b1f24";
    g.font = "600 13px system-ui, sans-serif";
    g.fillText(`${this.label}: ${latest === undefined ? "—" : latest.toFixed(1) + " " + this.unit}`, pad.left, 15);
    if (values.length) {
      const offset = span - values.length;
      g.strokeStyle = this.color;
      g.lineWidth = 2;
      g.beginPath();
      values.forEach((v, i) => (i ? g.lineTo(x(i + offset), y(v)) : g.moveTo(x(i + offset), y(v))));
      g.stroke();
      g.fillStyle = this.color;
      g.beginPath();
      g.arc(x(values.length - 1 + offset), y(latest), 3.5, 0, Math.PI * 2);
      g.fill();
    }
    this.canvas.setAttribute("aria-label", `${this.label} over time, latest ${latest === undefined ? "no data" : latest.toFixed(1) + " " + this.unit}`);
    this.canvas.dataset.points = String(values.length);
  }
}

// A chart of per-minute values on <canvas>: stacked bars (counts) or lines (rates, latencies), one
// or more named series, with a labelled value axis (its unit), a time axis (HH:MM), a legend, and
// a text alternative in its aria-label. `set(times, values)` takes the minutes' start times (ms)
// and, per series, one number (or null) per minute.
export class TimeChart {
  constructor(canvas, { label, unit, kind = "bars", series, max = 0 }) {
    Object.assign(this, { canvas, label, unit, kind, series, max, times: [], values: series.map(() => []) });
    this.canvas.setAttribute("role", "img");
    this.draw();
  }

  set(times, values) {
    this.times = times;
    this.values = values;
    this.draw();
  }

  draw() {
    const ratio = window.devicePixelRatio || 1;
    const width = this.canvas.clientWidth || 320;
    const height = this.canvas.clientHeight || 180;
    this.canvas.width = width * ratio;
    this.canvas.height = height * ratio;
    const g = this.canvas.getContext("2d");
    g.scale(ratio, ratio);
    g.clearRect(0, 0, width, height);
    const pad = { left: 48, right: 10, top: 40, bottom: 22 };
    const n = this.times.length;
    const stacked = this.kind === "bars";
    const tops = this.times.map((_, i) => stacked
      ? this.values.reduce((sum, values) => sum + (values[i] ?? 0), 0)
      : Math.max(0, ...this.values.map((values) => values[i] ?? 0)));
    const high = niceCeiling(Math.max(this.max, ...tops, 1));
    const plotWidth = width - pad.left - pad.right;
    const slot = plotWidth / Math.max(1, n);
    const x = (i) => pad.left + (i + 0.5) * slot;
    const y = (v) => height - pad.bottom - (v / high) * (height - pad.top - pad.bottom);

    g.font = "600 13px system-ui, sans-serif";
    g.fillStyle = "#1b1f24";
    g.fillText(`${this.label} (${this.unit})`, pad.left, 14);
    // Legend.
    g.font = "12px system-ui, sans-serif";
    let legendX = pad.left;
    for (const { name, color } of this.series) {
      g.fillStyle = color;
      g.fillRect(legendX, 22, 10, 10);
      g.fillStyle = "#59606b";
      g.fillText(name, legendX + 14, 31);
      legendX += g.measureText(name).width + 28;
    }
    // Value axis: guides at 0, half and the top, labelled with the unit.
    g.strokeStyle = "#e3e7ec";
    g.lineWidth = 1;
    for (const v of [0, high / 2, high]) {
      g.beginPath();
      g.moveTo(pad.left, y(v));
      g.lineTo(width - pad.right, y(v));
      g.stroke();
      g.fillStyle = "#59606b";
      g.fillText(formatValue(v), 4, y(v) + 4);
    }
    // Time axis: the first, middle and last minutes.
    for (const i of n ? [...new Set([0, Math.floor((n - 1) / 2), n - 1])] : []) {
      const text = clock(this.times[i]);
      g.fillText(text, Math.min(Math.max(x(i) - g.measureText(text).width / 2, pad.left), width - pad.right - g.measureText(text).width), height - 6);
    }
    if (stacked) {
      const base = new Array(n).fill(0);
      this.series.forEach(({ color }, s) => {
        g.fillStyle = color;
        this.values[s].forEach((v, i) => {
          if (!v) return;
          g.fillRect(x(i) - slot * 0.4, y(base[i] + v), slot * 0.8, y(base[i]) - y(base[i] + v));
          base[i] += v;
        });
      });
    } else {
      this.series.forEach(({ color }, s) => {
        g.strokeStyle = color;
        g.fillStyle = color;
        g.lineWidth = 2;
        g.beginPath();
        let drawing = false;
        this.values[s].forEach((v, i) => {
          if (v === null || v === undefined) { drawing = false; return; }
          if (drawing) g.lineTo(x(i), y(v)); else g.moveTo(x(i), y(v));
          drawing = true;
        });
        g.stroke();
        this.values[s].forEach((v, i) => {
          if (v === null || v === undefined) return;
          g.beginPath();
          g.arc(x(i), y(v), 2.5, 0, Math.PI * 2);
          g.fill();
        });
      });
    }
    this.canvas.setAttribute("aria-label", this.describe());
  }

  /** The chart in words: per series, its total (bars) or its latest and highest value (lines). */
  describe() {
    const span = this.times.length ? `${clock(this.times[0])} to ${clock(this.times.at(-1))}` : "no minutes";
    const parts = this.series.map(({ name }, s) => {
      const values = this.values[s].filter((v) => v !== null && v !== undefined);
      if (this.kind === "bars") return `${name} ${values.reduce((a, b) => a + b, 0)}`;
      return values.length ? `${name} latest ${formatValue(values.at(-1))}, highest ${formatValue(Math.max(...values))}` : `${name} no data`;
    });
    return `${this.label} in ${this.unit} per minute, ${span}: ${parts.join("; ")}`;
  }
}

function niceCeiling(value) {
  const step = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((m) => m * step).find((v) => v >= value);
}

function formatValue(v) {
  return Number.isInteger(v) ? String(v) : v.toFixed(v < 10 ? 1 : 0);
}

function clock(time) {
  return new Date(time).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
}
