// The console's entry, kept small: on a reload of the runs list it asks for the list's first page
// at once (with the tab's kept session), then loads the app. The request is then in flight while
// React and the pages download and evaluate, instead of starting after them; the page picks it up.
import { preload, storedSession } from './api.ts';
import { runsRequest } from './runs-request.ts';
import './styles.css';

const kept = storedSession();
if (kept && location.pathname === '/runs') preload(kept.token, runsRequest(location.search));

void import('./main.tsx');
