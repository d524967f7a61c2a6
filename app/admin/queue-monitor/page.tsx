import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { currentUser } from '@/lib/auth/guard';
import { hasRole } from '@/lib/auth/users';
import { QueueMonitor } from './queue-monitor';

export const dynamic = 'force-dynamic';
export const metadata = { title: 'Queue monitor · Conveyor' };

/** Every signed-in role sees the monitor; MANAGER and ADMIN retry and cancel jobs and pause types; only ADMIN acts on schedules. */
export default async function QueueMonitorPage() {
  const cookieStore = await cookies();
  const user = await currentUser(cookieStore.toString());
  if (!user) redirect('/login?next=/admin/queue-monitor');
  return <QueueMonitor email={user.email} canMutate={hasRole(user.role, 'ADMIN')} canAct={hasRole(user.role, 'MANAGER')} />;
}
