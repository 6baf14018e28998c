// Budgeted batch allocation: a multiple-choice knapsack (each customer gets at most one of its
// options; total cost within the budget; maximise total expected value). The greedy walks every
// customer's upper convex hull of (cost, value) steps in order of incremental value per cost,
// then fills what budget is left in one pass. Its gap to the optimum is measured in
// test/budget.test.ts against brute force.

export interface Choice {
  cost: number;
  value: number;
}

interface Step {
  customer: number;
  from: number;
  to: number;
  cost: number;
  gain: number;
  ratio: number;
}

/** The steps along a customer's upper hull, from "nothing" (-1) outwards. */
function hullSteps(customer: number, options: Choice[]): Step[] {
  const order = options
    .map((o, i) => ({ ...o, i }))
    .filter((o) => o.value > 0)
    .sort((a, b) => a.cost - b.cost || b.value - a.value);
  const steps: Step[] = [];
  let at = { cost: 0, value: 0, i: -1 };
  let rest = order;
  while (rest.length) {
    // The next hull point: the best incremental ratio from where we are (value must rise).
    let best: (typeof order)[number] | null = null;
    let bestRatio = -Infinity;
    for (const o of rest) {
      if (o.value <= at.value) continue;
      const dc = o.cost - at.cost;
      const ratio = dc <= 0 ? Infinity : (o.value - at.value) / dc;
      if (ratio > bestRatio || (ratio === bestRatio && best && o.value > best.value)) {
        best = o;
        bestRatio = ratio;
      }
    }
    if (!best) break;
    steps.push({ customer, from: at.i, to: best.i, cost: best.cost - at.cost, gain: best.value - at.value, ratio: bestRatio });
    at = best;
    rest = rest.filter((o) => o.cost > best!.cost || (o.cost === best!.cost && o.value > best!.value));
  }
  return steps;
}

const total = (options: Choice[][], chosen: number[]) => chosen.reduce((s, k, i) => s + (k >= 0 ? options[i][k].value : 0), 0);

/**
 * For each customer, the index of the option chosen, or -1. The better of two greedy runs: from
 * nothing, and from the single most valuable affordable option (a ratio greedy alone can be
 * arbitrarily bad when a small efficient pick blocks a large one; with the second run the result
 * is at least half the optimum).
 */
export function allocate(options: Choice[][], budget: number): number[] {
  const plain = greedy(options, budget, options.map(() => -1));
  let bestCustomer = -1;
  let bestOption = -1;
  options.forEach((opts, c) =>
    opts.forEach((o, k) => {
      if (o.cost <= budget + 1e-9 && o.value > 0 && (bestCustomer < 0 || o.value > options[bestCustomer][bestOption].value)) {
        bestCustomer = c;
        bestOption = k;
      }
    }),
  );
  if (bestCustomer < 0) return plain;
  const seed = options.map(() => -1);
  seed[bestCustomer] = bestOption;
  const seeded = greedy(options, budget, seed);
  return total(options, seeded) > total(options, plain) ? seeded : plain;
}

function greedy(options: Choice[][], budget: number, start: number[]): number[] {
  const chosen = [...start];
  let left = budget - chosen.reduce((s, k, i) => s + (k >= 0 ? options[i][k].cost : 0), 0);
  const steps = options.flatMap((o, c) => hullSteps(c, o)).sort((a, b) => b.ratio - a.ratio);
  for (const s of steps) {
    if (chosen[s.customer] === s.from && s.cost <= left + 1e-9) {
      chosen[s.customer] = s.to;
      left -= s.cost;
    }
  }
  // Fill: one pass, best gains first, any option whose extra cost still fits.
  const upgrades = options
    .map((opts, c) => {
      const cur = chosen[c] < 0 ? { cost: 0, value: 0 } : opts[chosen[c]];
      let best = -1;
      let gain = 0;
      opts.forEach((o, i) => {
        if (o.value - cur.value > gain && o.cost - cur.cost <= left + 1e-9) {
          best = i;
          gain = o.value - cur.value;
        }
      });
      return { c, best, gain };
    })
    .filter((u) => u.best >= 0)
    .sort((a, b) => b.gain - a.gain);
  for (const u of upgrades) {
    const opts = options[u.c];
    const cur = chosen[u.c] < 0 ? 0 : opts[chosen[u.c]].cost;
    const extra = opts[u.best].cost - cur;
    if (extra <= left + 1e-9) {
      chosen[u.c] = u.best;
      left -= extra;
    }
  }
  return chosen;
}
