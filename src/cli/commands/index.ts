import type { Command } from 'commander';

/** Every top-level command registers itself here, in help order. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [];
