// A tiny line chart on <canvas>: one series over time, with its latest value, min/max guides and
// an accessible text summary. Drawn by the page itself (no library, works offline).

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
