/**
 * A construct prop that cannot work, found at synth. `prop` names it the way the caller wrote
 * it (e.g. `subnets`, `amis.retiring`), so the message points at the line to fix.
 */
export class PropsError extends Error {
  constructor(
    readonly construct: string,
    readonly prop: string,
    problem: string,
  ) {
    super(`${construct}: ${prop}: ${problem}`);
    this.name = "PropsError";
  }
}
