// Recovery analytics: draws each chart from the numbers the page passes as JSON (json_script);
// the same numbers are in the table under each chart, and in its CSV.
(() => {
  if (typeof window.Chart === "undefined") return;
  const palette = ["#0b6e6e", "#e0a03b", "#6941c6", "#b42318", "#067647", "#5b6775"];
  const money = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD" });
  const count = new Intl.NumberFormat("en-US");
  const format = (unit, value) => {
    if (value === null || value === undefined) return "—";
    if (unit === "money") return money.format(value);
    if (unit === "percent") return `${value}%`;
    return count.format(value);
  };
  document.querySelectorAll("canvas[data-chart]").forEach((canvas) => {
    const source = document.getElementById(canvas.dataset.chart);
    if (!source) return;
    const spec = JSON.parse(source.textContent);
    const horizontal = Boolean(spec.horizontal);
    const rows = spec.labels.length;
    if (horizontal) canvas.parentElement.style.height = `${Math.max(140, rows * 34 + 50)}px`;
    const valueAxis = {
      beginAtZero: true,
      // Counts of messages and payments are whole: no 0.5 payment on the axis.
      ticks: { callback: (value) => format(spec.unit, value), ...(spec.unit === "count" ? { precision: 0 } : {}) },
      ...(spec.unit === "percent" ? { max: 100 } : {}),
    };
    new window.Chart(canvas, {
      type: spec.type,
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map((set, n) => ({
          label: set.label,
          data: set.data,
          backgroundColor: palette[n % palette.length],
          borderColor: palette[n % palette.length],
          pointRadius: spec.type === "line" ? 3 : undefined,
        })),
      },
      options: {
        indexAxis: horizontal ? "y" : "x",
        maintainAspectRatio: false,
        animation: false,
        scales: horizontal ? { x: valueAxis } : { y: valueAxis },
        plugins: {
          legend: { display: spec.datasets.length > 1, position: "bottom" },
          tooltip: { callbacks: { label: (item) => `${item.dataset.label}: ${format(spec.unit, item.raw)}` } },
        },
      },
    });
  });
})();
