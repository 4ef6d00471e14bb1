/**
 * Image members (Glance's image sharing): the owner of a `shared` image lists the projects it is
 * shared with; each member accepts or rejects it, which decides whether the image appears in the
 * member's default list. A member sees only its own membership.
 */
import { DuplicateKeyError, toDbTimestamp } from '../common/db/portable.ts';
import type { ImageConfig } from './config.ts';
import type { ImageMemberRow } from './db/schema.ts';
import { conflict, forbidden, invalid, memberNotFound, overLimit } from './errors.ts';
import { MEMBER_STATUSES, type MemberStatus } from './image-fields.ts';
import type { Db, Image, Viewer } from './images.ts';

export type Member = {
  image_id: string;
  member_id: string;
  status: MemberStatus;
  created_at: string;
  updated_at: string;
};

function toMember(row: ImageMemberRow): Member {
  return {
    image_id: row.image_id,
    member_id: row.member,
    status: row.status as MemberStatus,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

function onlyShared(image: Image): void {
  if (image.visibility !== 'shared') throw forbidden('Only shared images have members.');
}

function sees(viewer: Viewer, image: Image, memberId: string): boolean {
  return viewer.isAdmin || image.owner === viewer.projectId || memberId === viewer.projectId;
}

export class Members {
  readonly #db: Db;
  readonly #config: ImageConfig;
  readonly #now: () => Date;

  constructor(db: Db, config: ImageConfig, now: () => Date = () => new Date()) {
    this.#db = db;
    this.#config = config;
    this.#now = now;
  }

  /**
   * Shares `image` with project `memberId`, pending its answer.
   * @throws ForbiddenError (403) unless the image is shared; ConflictError (409) if already a
   *   member; PayloadTooLargeError (413) over the member quota.
   */
  async add(image: Image, memberId: string): Promise<Member> {
    onlyShared(image);
    if (memberId.length === 0 || memberId.length > 255)
      throw invalid('Invalid member id: 1 to 255 characters.');
    const quota = this.#config.image_member_quota;
    if (quota >= 0) {
      const row = await this.#db
        .selectFrom('image_member')
        .select((eb) => eb.fn.countAll<number>().as('n'))
        .where('image_id', '=', image.id)
        .executeTakeFirstOrThrow();
      if (Number(row.n) + 1 > quota)
        throw overLimit(`Maximum number of image members exceeded: an image may have ${quota}.`);
    }
    const now = toDbTimestamp(this.#now());
    const row: ImageMemberRow = {
      image_id: image.id,
      member: memberId,
      status: 'pending',
      created_at: now,
      updated_at: now,
    };
    try {
      await this.#db.insertInto('image_member').values(row).execute();
    } catch (err) {
      if (err instanceof DuplicateKeyError)
        throw conflict(
          `The target member ${memberId} is already associated with image ${image.id}.`,
        );
      throw err;
    }
    return toMember(row);
  }

  /** The owner (or an admin) sees every member; a member sees only itself. */
  async list(viewer: Viewer, image: Image): Promise<Member[]> {
    onlyShared(image);
    let q = this.#db
      .selectFrom('image_member')
      .selectAll()
      .where('image_id', '=', image.id)
      .orderBy('created_at')
      .orderBy('member');
    if (!viewer.isAdmin && image.owner !== viewer.projectId)
      q = q.where('member', '=', viewer.projectId ?? '');
    return (await q.execute()).map(toMember);
  }

  /** @throws NotFoundError (404) if there is no such member, or the viewer may not see it. */
  async get(viewer: Viewer, image: Image, memberId: string): Promise<Member> {
    onlyShared(image);
    if (!sees(viewer, image, memberId)) throw memberNotFound(image.id, memberId);
    const row = await this.#db
      .selectFrom('image_member')
      .selectAll()
      .where('image_id', '=', image.id)
      .where('member', '=', memberId)
      .executeTakeFirst();
    if (!row) throw memberNotFound(image.id, memberId);
    return toMember(row);
  }

  /** Records the member's answer. @throws BadRequestError (400) for an unknown status. */
  async setStatus(viewer: Viewer, image: Image, memberId: string, status: string): Promise<Member> {
    if (!(MEMBER_STATUSES as readonly string[]).includes(status))
      throw invalid(
        `Provided object does not match schema 'member': '${status}' is not one of ['pending', 'accepted', 'rejected']`,
      );
    const current = await this.get(viewer, image, memberId);
    const updated_at = toDbTimestamp(this.#now());
    await this.#db
      .updateTable('image_member')
      .set({ status, updated_at })
      .where('image_id', '=', image.id)
      .where('member', '=', memberId)
      .execute();
    return { ...current, status: status as MemberStatus, updated_at };
  }

  async delete(viewer: Viewer, image: Image, memberId: string): Promise<void> {
    await this.get(viewer, image, memberId);
    await this.#db
      .deleteFrom('image_member')
      .where('image_id', '=', image.id)
      .where('member', '=', memberId)
      .execute();
  }
}
