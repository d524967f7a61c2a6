import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { currentUser } from '@/lib/auth/guard';
import { hasRole } from '@/lib/auth/users';
import { WorkflowRuns } from './workflow-runs';

export const dynamic = 'force-dynamic';
export const metadata = { title: 'Workflow runs · Conveyor' };

/** Every signed-in role sees the runs and their timelines; only ADMIN gets retry and cancel. */
export default async function WorkflowsPage() {
  const cookieStore = await cookies();
  const user = await currentUser(cookieStore.toString());
  if (!user) redirect('/login?next=/admin/workflows');
  return <WorkflowRuns email={user.email} canMutate={hasRole(user.role, 'ADMIN')} />;
}
