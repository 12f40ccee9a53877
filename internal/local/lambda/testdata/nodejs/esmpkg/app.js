// An ES module by its package.json.
export const handler = async (event) => ({ message: `hello ${event.name}`, style: 'esm by package.json' });
