export function handleUsage(text: string, spec?: { flags?: Record<string, boolean>; positionals?: number; argv?: string[] }): void;
