package dev.lake.linear;

import org.agrona.MutableDirectBuffer;

/**
 * Fills free lake memory in place for {@link LakeAllocator#process(DropletWriter)}: the zero-copy way to
 * produce a payload whose size is only known once it is written (an encoder, a channel read).
 */
@FunctionalInterface
public interface DropletWriter
{
    /**
     * Writes into {@code buffer} at {@code [offset, offset + capacity)} and reports how many bytes, from
     * {@code offset}, to keep. The writer must not write outside that range nor use the lake it was given by
     * (allocate, rewind, close) while it runs.
     *
     * @param buffer   the lake's buffer.
     * @param offset   first free byte (aligned as requested).
     * @param capacity bytes available.
     * @return bytes to keep, 0 to {@code capacity}.
     */
    int write(MutableDirectBuffer buffer, int offset, int capacity);
}
