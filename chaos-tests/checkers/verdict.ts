/** What every checker returns: pass or fail, a one-line summary, and the evidence. */
export interface Verdict {
  name: string;
  pass: boolean;
  summary: string;
  details: string[];
}
