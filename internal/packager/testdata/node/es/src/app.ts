import ms from "ms";

export const handler = async (): Promise<{ wait: number }> => ({ wait: ms("1s") });
