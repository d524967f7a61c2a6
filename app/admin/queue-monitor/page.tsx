import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { currentUser } from '@/lib/auth/guard';
import { hasRole } from '@/lib/auth/users';
import { QueueMonitor } from './queue-monitor';

export const dynamic = 'force-dynamic';
export const metadata = { title: 'Queue monitor · Conveyor' };

/** MANAGER and ADMIN see the monitor; only ADMIN gets retry and cancel. */
export default async function QueueMonitorPage() {
  const cookieStore = await cookies();
  const user = await currentUser(cookieStore.toString());
  if (!user) redirect('/login?next=/admin/queue-monitor');
  if (!hasRole(user.role, 'MANAGER')) {
    return (
      <section className="panel">
        <h2>Forbidden</h2>
        <p>The queue monitor needs the MANAGER or ADMIN role; {user.email} is {user.role}.</p>
      </section>
    );
  }
  return <QueueMonitor email={user.email} canMutate={hasRole(user.role, 'ADMIN')} />;
}
