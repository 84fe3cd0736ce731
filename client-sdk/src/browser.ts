/** The `<script>` build: everything on `window.Parley`. */
export { createVisitorClient, createAgentClient, ParleyError, memoryStorage } from './index';
