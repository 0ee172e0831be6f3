package dev.lake.slice;

import org.agrona.MutableDirectBuffer;

/**
 * Writes one element of a new slice in place, through a buffer: the general initializer, used for record
 * layouts (place an SBE encoder with {@code encoder.wrap(buffer, offset)}) and usable for any layout.
 *
 * <p>The buffer is the allocator's window over the new slice's bytes only, valid during the call: an
 * initializer that keeps it, or writes outside {@code [offset, offset + layout.size())}, is a bug (with Agrona
 * bounds checks on, writes outside the slice throw).
 */
@FunctionalInterface
public interface ElementInit
{
    /**
     * @param buffer the window over the slice being built.
     * @param offset the element's first byte in {@code buffer}.
     * @param index  the element's index, 0 to length - 1, called in ascending order.
     */
    void init(MutableDirectBuffer buffer, int offset, int index);
}
