/** A paper a unit (attack, detector, analysis) implements, cited in results and docs. */
export interface Citation {
  readonly authors: string;
  readonly title: string;
  readonly venue: string;
  readonly year: number;
}
