export function workerdGuardEnv(root: string): Record<string, string>;
export function guardedCommand(root: string, command: string, args: string[]): [string, string[]];
export function wranglerCommand(root: string, args: string[]): [string, string[]];
export const DEFAULT_WORKERD_V8_FLAGS: string;
