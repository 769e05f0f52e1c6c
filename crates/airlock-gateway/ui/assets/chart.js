// Time-series charts over uPlot (vendored; loaded as a classic script that
// defines window.uPlot). A chart lives in an element with class "chart".

import { h, replace } from './dom.js';

/** uPlot's points filter: the indexes whose value has no neighbour on
 * either side (a line cannot be drawn through them). */
function isolatedPoints(u, seriesIdx) {
  const values = u.data[seriesIdx];
  const shown = [];
  for (let i = 0; i < values.length; i++) {
    const present = (j) => values[j] !== null && values[j] !== undefined;
    if (present(i) && !present(i - 1) && !present(i + 1)) shown.push(i);
  }
  return shown;
}

export const COLORS = {
  accent: '#1d4ed8',
  red: '#dc2626',
  orange: '#ea580c',
  purple: '#7c3aed',
  green: '#15803d',
  teal: '#0d9488',
  grey: '#64748b',
};

/**
 * timeChart(container, {series: [{label, color, fill}], format: v => string, height})
 * -> {setData(xsMs, ys[][]), destroy()}
 */
export function timeChart(container, opts) {
  const U = window.uPlot;
  const height = opts.height || 220;
  const format = opts.format || ((v) => String(v));
  let plot = null;
  let observer = null;
  let lastWidth = 0;

  if (typeof U !== 'function') {
    replace(container, h('p', { class: 'empty' }, 'Charts could not be loaded.'));
    return { setData() {}, destroy() {} };
  }

  const width = () => Math.max(240, Math.floor(container.clientWidth || 600));

  function build(data) {
    const options = {
      width: width(),
      height,
      cursor: { drag: { x: false, y: false } },
      legend: { live: true },
      scales: {
        x: { time: true },
        // From zero; an empty window (all zeros or gaps) still gets an axis.
        y: { range: (u, min, max) => (max === null || !(max > 0) ? [0, 1] : U.rangeNum(0, max, 0.1, true)) },
      },
      series: [
        { label: 'Time' },
        ...opts.series.map((s) => ({
          label: s.label,
          stroke: s.color,
          width: 2,
          fill: s.fill || undefined,
          spanGaps: false,
          // A point where a value stands between gaps (one busy minute
          // alone would otherwise draw nothing).
          points: { show: true, size: 5, filter: isolatedPoints },
          value: (u, v) => (v === null || v === undefined ? '—' : format(v)),
        })),
      ],
      axes: [
        { stroke: '#5b6470', grid: { stroke: '#eceef2' }, ticks: { stroke: '#d9dde3' } },
        {
          stroke: '#5b6470',
          size: 64,
          grid: { stroke: '#eceef2' },
          ticks: { stroke: '#d9dde3' },
          values: (u, vals) => vals.map((v) => (v === null ? '' : format(v))),
        },
      ],
    };
    plot = new U(options, data, container);
    lastWidth = width();
    if (typeof ResizeObserver === 'function') {
      observer = new ResizeObserver(() => {
        const w = width();
        if (plot && Math.abs(w - lastWidth) > 2) {
          lastWidth = w;
          plot.setSize({ width: w, height });
        }
      });
      observer.observe(container);
    }
  }

  return {
    setData(xsMs, ys) {
      const data = [xsMs.map((t) => t / 1000), ...ys];
      if (!plot) build(data);
      else plot.setData(data);
    },
    destroy() {
      if (observer) observer.disconnect();
      if (plot) plot.destroy();
      plot = null;
    },
  };
}
