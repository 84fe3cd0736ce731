import type {
  LeadFilterNode,
  LeadSearchResponse,
  Segment,
  SegmentCreateInput,
  SegmentLeadsQuery,
  SegmentListResponse,
  SegmentPatchInput,
} from '@parley/protocol';
import { AppError, notFound } from '../errors';
import { iso, newId } from '../infra/ids';
import { compileFilter, propertyKeysOf } from '../leads/lead-filter';
import type { LeadFilterSearch } from '../leads/lead-filter-search';
import type { PropertyService } from '../properties/property-service';
import type { SegmentDoc, SegmentModel } from './segment-model';

export function toSegment(doc: SegmentDoc): Segment {
  const segment: Segment = {
    id: doc._id,
    projectId: doc.projectId,
    name: doc.name,
    filter: doc.filter as Segment['filter'],
    createdAt: iso(doc.createdAt),
    updatedAt: iso(doc.updatedAt),
  };
  if (doc.q !== undefined && doc.q !== null) segment.q = doc.q;
  return segment;
}

/** A project has at most this many segments. */
const SEGMENTS_MAX = 200;

/**
 * Saved contact filters. A filter is checked against the project's fields when saved (BAD_REQUEST
 * naming the condition) and again when listed, since properties may change in between. A
 * property a segment names cannot be deleted (CONFLICT naming the segments) until the segment
 * stops naming it, so that no saved filter silently starts to match something else.
 */
export class SegmentService {
  constructor(
    private readonly segments: SegmentModel,
    private readonly properties: PropertyService,
    private readonly search: LeadFilterSearch,
  ) {}

  async list(projectId: string): Promise<SegmentListResponse> {
    const docs = await this.segments.find({ projectId }).sort({ name: 1, _id: 1 }).lean<SegmentDoc[]>().exec();
    return { items: docs.map(toSegment) };
  }

  async get(projectId: string, segmentId: string): Promise<Segment> {
    return toSegment(await this.getDoc(projectId, segmentId));
  }

  private async getDoc(projectId: string, segmentId: string): Promise<SegmentDoc> {
    const doc = await this.segments.findOne({ _id: segmentId, projectId }).lean<SegmentDoc>().exec();
    if (!doc) throw notFound('Segment');
    return doc;
  }

  private async check(projectId: string, filter: LeadFilterNode): Promise<void> {
    compileFilter(await this.properties.catalog(projectId), filter);
  }

  async create(projectId: string, input: SegmentCreateInput): Promise<Segment> {
    const filter = input.filter as LeadFilterNode;
    await this.check(projectId, filter);
    if ((await this.segments.countDocuments({ projectId }).exec()) >= SEGMENTS_MAX)
      throw new AppError('CONFLICT', `A project has at most ${SEGMENTS_MAX} segments`);
    const now = new Date();
    const doc: SegmentDoc = {
      _id: newId(),
      projectId,
      name: input.name,
      filter,
      ...(input.q ? { q: input.q } : {}),
      propertyKeys: [...new Set(propertyKeysOf(filter))],
      createdAt: now,
      updatedAt: now,
    };
    await this.segments.create(doc);
    return toSegment(doc);
  }

  async update(projectId: string, segmentId: string, input: SegmentPatchInput): Promise<Segment> {
    const $set: Record<string, unknown> = { updatedAt: new Date() };
    const $unset: Record<string, ''> = {};
    if (input.name !== undefined) $set['name'] = input.name;
    if (input.filter !== undefined) {
      const filter = input.filter as LeadFilterNode;
      await this.check(projectId, filter);
      $set['filter'] = filter;
      $set['propertyKeys'] = [...new Set(propertyKeysOf(filter))];
    }
    if (input.q === null) $unset['q'] = '';
    else if (input.q !== undefined) $set['q'] = input.q;
    const doc = await this.segments
      .findOneAndUpdate({ _id: segmentId, projectId }, Object.keys($unset).length ? { $set, $unset } : { $set }, {
        returnDocument: 'after',
      })
      .lean<SegmentDoc>()
      .exec();
    if (!doc) throw notFound('Segment');
    return toSegment(doc);
  }

  async remove(projectId: string, segmentId: string): Promise<void> {
    const result = await this.segments.deleteOne({ _id: segmentId, projectId }).exec();
    if (result.deletedCount === 0) throw notFound('Segment');
  }

  /** The segment's leads, with the search's sort and cursor paging. */
  async leads(projectId: string, segmentId: string, query: SegmentLeadsQuery): Promise<LeadSearchResponse> {
    const doc = await this.getDoc(projectId, segmentId);
    return this.search.search(projectId, {
      filter: doc.filter as never,
      ...(doc.q ? { q: doc.q } : {}),
      ...(query.sort ? { sort: { field: query.sort, ...(query.order ? { order: query.order } : {}) } } : {}),
      ...(query.limit ? { limit: query.limit } : {}),
      ...(query.cursor ? { cursor: query.cursor } : {}),
    });
  }

  /** Refuses deleting a property that a segment's filter names (CONFLICT naming the segments). */
  async assertPropertyUnused(projectId: string, key: string): Promise<void> {
    const using = await this.segments
      .find({ projectId, propertyKeys: key }, { _id: 1, name: 1 })
      .limit(10)
      .lean<Pick<SegmentDoc, '_id' | 'name'>[]>()
      .exec();
    if (using.length > 0)
      throw new AppError('CONFLICT', `Segments filter on "${key}": change or delete them first`, {
        fields: using.map((s) => ({ field: `segments.${s._id}`, message: `"${s.name}" filters on ${key}` })),
      });
  }
}
