package dev.lake.linear;

/**
 * A saved position of one lake or view, taken by {@link LakeAllocator#snapshot()} and restored by
 * {@link LakeAllocator#rewind(LakeSnapshot)}. A small value: it holds no memory and needs no closing.
 *
 * <p>A snapshot stays usable as long as its allocator's position has not moved below it since it was taken
 * (rewinding to the snapshot itself keeps it usable, so one snapshot can be rewound to many times). Once
 * memory below it was given back, the state it describes no longer exists and rewinding to it throws
 * {@link dev.lake.memory.StaleHandleException}; a snapshot of another allocator throws
 * {@link IllegalArgumentException}.
 *
 * @param allocator  the lake or view the snapshot belongs to.
 * @param position   the saved position (an offset into {@link LakeAllocator#buffer()}).
 * @param epochIndex validation data: where the snapshot is registered in its allocator.
 * @param epochId    validation data: the registration's identity.
 */
public record LakeSnapshot(LakeAllocator allocator, int position, int epochIndex, long epochId)
{
}
