// Message ids and cids: the SDK's module (sdk/src/ids.js), which the server uses too.
export { compareIds, idTime, insertSorted, isMessageId, newCid } from '../sdk/ids.js';
