// A line chart as a standalone SVG string, written by hand: decode tokens/s against context
// length, one line per measured model.

export interface Series {
  name: string;
  points: { x: number; y: number }[];
}

export interface ChartText {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
}

const COLORS = ["#1f6fb4", "#d4442a", "#2a9d4b", "#8a4fbf", "#c48a00"];
const WIDTH = 720;
const HEIGHT = 420;
const PLOT = { left: 70, right: 560, top: 64, bottom: 356 };

export function escapeXml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" })[c]!);
}

/** A round tick step (1, 2 or 5 × 10ⁿ) giving about `ticks` intervals over [0, max]. */
export function niceStep(max: number, ticks = 5): number {
  if (!(max > 0)) return 1;
  const raw = max / ticks;
  const pow = 10 ** Math.floor(Math.log10(raw));
  const f = raw / pow;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * pow;
}

function num(x: number): string {
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

/** A tick value with as many decimals as its step needs. */
function tick(v: number, step: number): string {
  return v.toFixed(step >= 1 ? 0 : Math.ceil(-Math.log10(step)));
}

function label(y: number): string {
  return y >= 100 ? y.toFixed(0) : y >= 10 ? y.toFixed(1) : y.toPrecision(2);
}

export function lineChart(series: readonly Series[], text: ChartText): string {
  const all = series.flatMap((s) => s.points);
  const xStep = niceStep(Math.max(1, ...all.map((p) => p.x)));
  const xMax = Math.ceil(Math.max(1, ...all.map((p) => p.x)) / xStep) * xStep;
  const yStep = niceStep(Math.max(1e-9, ...all.map((p) => p.y)) * 1.1);
  const yMax = Math.ceil((Math.max(1e-9, ...all.map((p) => p.y)) * 1.1) / yStep) * yStep;
  const px = (x: number) => PLOT.left + (x / xMax) * (PLOT.right - PLOT.left);
  const py = (y: number) => PLOT.bottom - (y / yMax) * (PLOT.bottom - PLOT.top);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${PLOT.left}" y="26" font-size="16" font-weight="bold">${escapeXml(text.title)}</text>`,
  ];
  if (text.subtitle) out.push(`<text x="${PLOT.left}" y="45" fill="#555555">${escapeXml(text.subtitle)}</text>`);

  // Grid and ticks.
  for (let y = 0; y <= yMax + yStep / 1e6; y += yStep) {
    const Y = num(py(y));
    out.push(`<line x1="${PLOT.left}" y1="${Y}" x2="${PLOT.right}" y2="${Y}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${PLOT.left - 8}" y="${Y}" text-anchor="end" dominant-baseline="middle">${tick(y, yStep)}</text>`);
  }
  for (let x = 0; x <= xMax + xStep / 1e6; x += xStep) {
    const X = num(px(x));
    out.push(`<line x1="${X}" y1="${PLOT.top}" x2="${X}" y2="${PLOT.bottom}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${X}" y="${PLOT.bottom + 18}" text-anchor="middle">${tick(x, xStep)}</text>`);
  }
  out.push(
    `<line x1="${PLOT.left}" y1="${PLOT.bottom}" x2="${PLOT.right}" y2="${PLOT.bottom}" stroke="#333333"/>`,
    `<line x1="${PLOT.left}" y1="${PLOT.top}" x2="${PLOT.left}" y2="${PLOT.bottom}" stroke="#333333"/>`,
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${PLOT.bottom + 42}" text-anchor="middle">${escapeXml(text.xLabel)}</text>`,
    `<text transform="translate(20 ${(PLOT.top + PLOT.bottom) / 2}) rotate(-90)" text-anchor="middle">${escapeXml(text.yLabel)}</text>`,
  );

  // One line per series, its points marked and labelled; the legend on the right.
  series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const points = [...s.points].sort((a, b) => a.x - b.x);
    out.push(`<g class="series" data-name="${escapeXml(s.name)}">`);
    out.push(
      `<polyline fill="none" stroke="${color}" stroke-width="2" points="${points.map((p) => `${num(px(p.x))},${num(py(p.y))}`).join(" ")}"/>`,
    );
    for (const p of points) {
      const X = num(px(p.x));
      const Y = num(py(p.y));
      out.push(
        `<circle cx="${X}" cy="${Y}" r="4" fill="${color}"><title>${escapeXml(`${s.name}: ${label(p.y)} at ${p.x}`)}</title></circle>`,
        `<text x="${X}" y="${num(py(p.y) - 9)}" text-anchor="middle" font-size="10" fill="${color}">${label(p.y)}</text>`,
      );
    }
    out.push("</g>");
    const ly = PLOT.top + 10 + i * 22;
    out.push(
      `<line x1="${PLOT.right + 20}" y1="${ly}" x2="${PLOT.right + 44}" y2="${ly}" stroke="${color}" stroke-width="2"/>`,
      `<circle cx="${PLOT.right + 32}" cy="${ly}" r="4" fill="${color}"/>`,
      `<text x="${PLOT.right + 52}" y="${ly}" dominant-baseline="middle">${escapeXml(s.name)}</text>`,
    );
  });
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
