// Where sam init's quick-start puts its handlers.
exports.getAllItemsHandler = async () => ({ items: [], where: 'src/handlers/get-all-items.js' });
