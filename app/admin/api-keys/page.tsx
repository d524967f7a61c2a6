import { cookies } from 'next/headers';
import { redirect } from 'next/navigation';
import { currentUser } from '@/lib/auth/guard';
import { hasRole } from '@/lib/auth/users';
import { ApiKeys } from './api-keys';

export const dynamic = 'force-dynamic';
export const metadata = { title: 'API keys · Conveyor' };

/** ADMIN only: projects and their API keys (create, revoke). */
export default async function ApiKeysPage() {
  const cookieStore = await cookies();
  const user = await currentUser(cookieStore.toString());
  if (!user) redirect('/login?next=/admin/api-keys');
  if (!hasRole(user.role, 'ADMIN')) {
    return (
      <p className="notice err">
        API keys are managed by ADMIN users; {user.email} is {user.role}.
      </p>
    );
  }
  return <ApiKeys email={user.email} />;
}
