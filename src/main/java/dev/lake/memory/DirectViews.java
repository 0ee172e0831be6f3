package dev.lake.memory;

import java.nio.Buffer;
import java.nio.ByteBuffer;

/**
 * Makes {@link ByteBuffer} views over Lake memory without JNI: duplicates a template direct buffer (so the
 * JDK builds a well-formed {@code DirectByteBuffer}) and points the copy at our address. The view's
 * attachment is the owner, so a reachable view keeps its memory reachable.
 */
final class DirectViews
{
    private static final ByteBuffer TEMPLATE = ByteBuffer.allocateDirect(1);
    private static final long ADDRESS;
    private static final long CAPACITY;
    private static final long LIMIT;
    private static final long POSITION;
    private static final long ATTACHMENT;
    private static final String UNSUPPORTED;

    static
    {
        long address = -1;
        long capacity = -1;
        long limit = -1;
        long position = -1;
        long attachment = -1;
        String unsupported = null;
        try
        {
            Memory.ensureAvailable();
            address = Memory.fieldOffset(Buffer.class, "address");
            capacity = Memory.fieldOffset(Buffer.class, "capacity");
            limit = Memory.fieldOffset(Buffer.class, "limit");
            position = Memory.fieldOffset(Buffer.class, "position");
            attachment = Memory.fieldOffset(TEMPLATE.getClass(), "att");
        }
        catch (final RuntimeException | Error ex)
        {
            unsupported = "ByteBuffer views are not supported on this JDK: " + ex;
        }
        ADDRESS = address;
        CAPACITY = capacity;
        LIMIT = limit;
        POSITION = position;
        ATTACHMENT = attachment;
        UNSUPPORTED = unsupported;
    }

    private DirectViews()
    {
    }

    static ByteBuffer view(final long address, final int size, final Object owner)
    {
        if (UNSUPPORTED != null)
        {
            throw new UnsupportedOperationException(UNSUPPORTED);
        }
        final ByteBuffer view = TEMPLATE.duplicate();
        Memory.putLongField(view, ADDRESS, address);
        Memory.putIntField(view, CAPACITY, size);
        Memory.putIntField(view, LIMIT, size);
        Memory.putReferenceField(view, ATTACHMENT, owner);
        Memory.storeFence();
        return view;
    }

    static void invalidate(final ByteBuffer view)
    {
        view.clear();
        Memory.putIntField(view, POSITION, 0);
        Memory.putIntField(view, LIMIT, 0);
        Memory.putIntField(view, CAPACITY, 0);
        Memory.putLongField(view, ADDRESS, 0);
        Memory.storeFence();
    }
}
