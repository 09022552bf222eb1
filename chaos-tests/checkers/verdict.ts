/** What every checker returns: pass or fail, a one-line summary, and the evidence. */
export interface Verdict {
  name: string;
  pass: boolean;
  summary: string;
  details: string[];
  /** Reported, but not part of the run's pass/fail (an observation, not one of the guarantees). */
  advisory?: boolean;
}
