/** The rows `extract` writes per example (see extract.ts); its own file so flag parsing stays light. */
export const TOKEN_SELECTIONS = ['all', 'cls', 'mean'] as const;
export type TokenSelection = (typeof TOKEN_SELECTIONS)[number];
