// An ES module by its extension.
export const handler = async (event) => ({ message: `hello ${event.name}`, style: 'esm' });
