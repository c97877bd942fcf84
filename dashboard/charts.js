// ECharts options for the dashboard's three charts. Pure functions of the data and the language,
// so a language switch simply sets the option again.
import { formatNumber, t } from './i18n.js';

export const FONT = '"Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", system-ui, sans-serif';
const COLOURS = { used: '#d9485f', reserved: '#f0a202', available: '#2f9e44' };
const SERIES = ['#3b5bdb', '#0ca678', '#f08c00', '#ae3ec9', '#1098ad', '#e03131', '#5c940d', '#862e9c'];

/** Budget as one stacked bar: used, reserved (held by running jobs) and available. */
export function quotaOption(quota) {
  const parts = [
    ['used', quota.usedUnits],
    ['reserved', quota.reservedUnits],
    ['available', quota.availableUnits],
  ];
  return {
    textStyle: { fontFamily: FONT },
    animation: false,
    grid: { left: 8, right: 24, top: 28, bottom: 8, containLabel: true },
    legend: { top: 0, textStyle: { fontFamily: FONT } },
    tooltip: { trigger: 'item', valueFormatter: (v) => `${formatNumber(v)} ${t('units')}` },
    xAxis: { type: 'value', max: Math.max(quota.budgetUnits, quota.usedUnits + quota.reservedUnits), axisLabel: { formatter: (v) => formatNumber(v, 0) } },
    yAxis: { type: 'category', data: [t('budget')], axisLabel: { fontFamily: FONT } },
    series: parts.map(([key, value]) => ({
      name: t(key), type: 'bar', stack: 'budget', data: [value], itemStyle: { color: COLOURS[key] }, barWidth: 28,
    })),
  };
}

/** One bar per day (the whole window, empty days included), stacked by model. */
export function usageOption(days, buckets) {
  const byDay = new Map(buckets.map((b) => [b.key, b]));
  const models = new Map();
  for (const day of buckets) for (const m of day.breakdown) models.set(m.key, m.label);
  return {
    textStyle: { fontFamily: FONT },
    animation: false,
    color: SERIES,
    grid: { left: 8, right: 16, top: 40, bottom: 8, containLabel: true },
    legend: { top: 0, type: 'scroll', textStyle: { fontFamily: FONT } },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, valueFormatter: (v) => formatNumber(v ?? 0) },
    xAxis: { type: 'category', data: days.map((d) => d.slice(5)), axisLabel: { fontFamily: FONT } },
    yAxis: { type: 'value', name: t('computeUnits'), nameTextStyle: { fontFamily: FONT, align: 'left' } },
    series: [...models].map(([key, label]) => ({
      name: label,
      type: 'bar',
      stack: 'usage',
      emphasis: { focus: 'series' },
      data: days.map((d) => byDay.get(d)?.breakdown.find((m) => m.key === key)?.computeUnits ?? 0),
    })),
  };
}

/** The operator's view of the queue: waiting jobs and devices in use, per member. */
export function queueOption(queues) {
  return {
    textStyle: { fontFamily: FONT },
    animation: false,
    grid: { left: 8, right: 16, top: 32, bottom: 8, containLabel: true },
    legend: { top: 0, textStyle: { fontFamily: FONT } },
    tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' } },
    xAxis: { type: 'category', data: queues.map((q) => q.tenantSlug) },
    yAxis: { type: 'value', minInterval: 1 },
    series: [
      { name: t('pendingJobs'), type: 'bar', data: queues.map((q) => q.pendingJobs), itemStyle: { color: COLOURS.reserved } },
      { name: t('runningDevices'), type: 'bar', data: queues.map((q) => q.runningDevices), itemStyle: { color: '#3b5bdb' } },
    ],
  };
}

/** Utilisation of live devices as a gauge, 0–100 %. */
export function utilisationOption(utilization) {
  return {
    textStyle: { fontFamily: FONT },
    animation: false,
    series: [{
      type: 'gauge', min: 0, max: 100, radius: '95%', center: ['50%', '60%'], startAngle: 200, endAngle: -20,
      progress: { show: true, width: 14 }, axisLine: { lineStyle: { width: 14 } }, pointer: { show: false },
      axisTick: { show: false }, splitLine: { show: false }, axisLabel: { show: false },
      title: { offsetCenter: [0, '35%'], fontFamily: FONT, fontSize: 13 },
      detail: { valueAnimation: false, offsetCenter: [0, '-5%'], formatter: '{value} %', fontSize: 22, fontFamily: FONT },
      data: [{ value: Math.round(utilization * 1000) / 10, name: t('utilisation') }],
    }],
  };
}
