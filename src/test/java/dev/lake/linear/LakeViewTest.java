package dev.lake.linear;

import dev.lake.memory.StaleHandleException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class LakeViewTest
{
    @Test
    void splitCarvesATributaryThatAllocatesOnlyInsideItself()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(10);
            final LakeView view = lake.split(256);
            assertSame(lake, view.parent());
            assertSame(lake, view.lake());
            assertEquals(16, view.start());
            assertEquals(272, view.limit());
            assertEquals(256, view.capacity());
            assertEquals(272, lake.position(), "for the lake the view is one allocation");
            assertSame(lake.buffer(), view.buffer());

            final int a = view.allocate(100);
            final Droplet d = view.droplet(100);
            assertTrue(a >= 16 && d.offset() + 100 <= 272);
            assertEquals(272, lake.position(), "allocating in the view never moves the parent");
            assertThrows(LakeOverflowException.class, () -> view.allocate(100));
            assertEquals(LakeAllocator.NO_SPACE, view.tryAllocate(100));
        }
    }

    @Test
    void viewsHaveTheirOwnMarksSnapshotsSandboxesResetAndClear()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeView view = lake.split(512);
            lake.mark();
            view.mark();
            final Droplet d = view.droplet(64);
            view.resetToMark();
            assertFalse(d.isValid());
            assertEquals(1, lake.markDepth());
            assertEquals(0, view.markDepth());

            final LakeSnapshot snapshot = view.snapshot();
            view.allocate(32);
            view.rewind(snapshot);
            assertEquals(0, view.used());
            assertThrows(IllegalArgumentException.class, () -> lake.rewind(snapshot), "per-allocator snapshots");

            try (Sandbox s = view.sandbox())
            {
                s.allocate(64);
                s.commit();
            }
            assertEquals(64, view.used());
            try (Sandbox s = view.sandbox())
            {
                view.allocate(64);
            }
            assertEquals(64, view.used());

            view.buffer().setMemory(view.start(), view.capacity(), (byte)9);
            view.clear();
            assertEquals(0, view.used());
            for (int i = view.start(); i < view.limit(); i++)
            {
                assertEquals(0, lake.buffer().getByte(i));
            }
            view.allocate(8);
            view.reset();
            assertEquals(0, view.used());
            assertTrue(view.isValid());
            assertEquals(512, lake.used());
        }
    }

    @Test
    void viewsProcessPlaceAndLayOutTypedArraysInsideThemselves()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeView view = lake.split(256);
            final Droplet d = view.process((buffer, offset, capacity) ->
            {
                assertEquals(view.limit() - offset, capacity, "the writer only sees the view's free space");
                buffer.putInt(offset, 1234);
                return 4;
            });
            assertEquals(1234, d.getInt(0));
            assertSame(view, d.allocator());
            final LakeTest.OrderFlyweight order = view.place(
                new LakeTest.OrderFlyweight(), LakeTest.OrderFlyweight.LENGTH, 8, LakeTest.OrderFlyweight::wrap);
            order.orderId(5L);
            final int longs = view.allocateLongs(4);
            assertEquals(0, (lake.address() + longs) & 7);
            assertTrue(order.offset() >= view.start() && longs + 32 <= view.limit());
            assertEquals(256, lake.used(), "the parent did not move");
            assertThrows(LakeOverflowException.class, () -> view.allocateLongs(100));
        }
    }

    @Test
    void viewsSplitRecursively()
    {
        try (Lake lake = Lake.of(4096))
        {
            final LakeView outer = lake.split(1024);
            final LakeView middle = outer.split(512);
            final LakeView inner = middle.split(128);
            final Droplet deep = inner.droplet(64);
            deep.putLong(0, 1L);
            assertSame(middle, inner.parent());
            assertSame(lake, inner.lake());
            assertEquals(128, middle.used());
            assertEquals(512, outer.used());

            middle.reset(); // invalidates inner and everything in it, not outer
            assertFalse(inner.isValid());
            assertFalse(deep.isValid());
            assertTrue(middle.isValid());
            assertTrue(outer.isValid());
            assertThrows(StaleHandleException.class, () -> inner.allocate(8));
            assertThrows(StaleHandleException.class, () -> deep.getLong(0));
        }
    }

    @Test
    void rewindingTheParentBelowAViewInvalidatesItForGood()
    {
        try (Lake lake = Lake.of(4096))
        {
            final Droplet before = lake.droplet(16);
            final LakeSnapshot snapshot = lake.snapshot();
            final LakeView view = lake.split(256);
            final Droplet inView = view.droplet(32);
            final LakeSnapshot viewSnapshot = view.snapshot();
            final Sandbox viewSandbox = view.sandbox();
            lake.rewind(snapshot);
            lake.allocate(512); // the view's bytes are handed out again

            assertFalse(view.isValid());
            assertFalse(inView.isValid());
            assertTrue(before.isValid());
            assertEquals(0, view.used());
            assertEquals(0, view.remaining());
            assertThrows(StaleHandleException.class, () -> view.allocate(8));
            assertThrows(StaleHandleException.class, () -> view.tryAllocate(8));
            assertThrows(StaleHandleException.class, () -> view.droplet(8));
            assertThrows(StaleHandleException.class, view::mark);
            assertThrows(StaleHandleException.class, view::reset);
            assertThrows(StaleHandleException.class, view::clear);
            assertThrows(StaleHandleException.class, view::snapshot);
            assertThrows(StaleHandleException.class, view::sandbox);
            assertThrows(StaleHandleException.class, () -> view.split(8));
            assertThrows(StaleHandleException.class, () -> view.rewind(viewSnapshot));
            assertThrows(StaleHandleException.class, () -> inView.putLong(0, 1L));
            assertThrows(StaleHandleException.class, viewSandbox::commit);
            viewSandbox.close();
            view.close();
            assertEquals(16 + 512, lake.position(), "closing a stale view gives nothing back");
        }
    }

    @Test
    void closingTheLastViewGivesItsBytesBack()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.allocate(8);
            try (LakeView scratch = lake.split(1024))
            {
                scratch.droplet(100);
                assertEquals(8 + 1024, lake.position());
            }
            assertEquals(8, lake.position());

            final LakeView first = lake.split(64);
            final LakeView second = lake.split(64);
            final Droplet d = first.droplet(8);
            first.close(); // not last: reset but kept
            assertTrue(first.isValid());
            assertFalse(d.isValid());
            assertEquals(0, first.used());
            second.close();
            first.close();
            assertEquals(8, lake.position());
        }
    }

    @Test
    void viewZeroingWipesOnReuseAndIsInherited()
    {
        try (Lake lake = Lake.of(4096))
        {
            lake.buffer().setMemory(0, 4096, (byte)0x5A);
            final LakeView view = lake.split(512);
            assertFalse(view.isZeroing());
            view.setZeroing(true);
            final int at = view.allocate(64);
            for (int i = 0; i < 64; i++)
            {
                assertEquals(0, lake.buffer().getByte(at + i), "handed out zeroed");
            }
            view.mark();
            final int secret = view.allocate(32);
            lake.buffer().setMemory(secret, 32, (byte)0x7F);
            view.resetToMark();
            for (int i = 0; i < 32; i++)
            {
                assertEquals(0, lake.buffer().getByte(secret + i), "wiped on reuse");
            }
            final LakeView child = view.split(128);
            assertTrue(child.isZeroing());
            final int inChild = child.allocate(128);
            for (int i = 0; i < 128; i++)
            {
                assertEquals(0, lake.buffer().getByte(inChild + i));
            }
            assertFalse(lake.isZeroing(), "the switch is per view");
        }
    }

    @Test
    void closingTheLakeInvalidatesViews()
    {
        final Lake lake = Lake.of(1024);
        final LakeView view = lake.split(128);
        final LakeView child = view.split(64);
        lake.close();
        assertFalse(view.isValid());
        assertFalse(child.isValid());
        final StaleHandleException ex = assertThrows(StaleHandleException.class, () -> child.allocate(8));
        assertTrue(ex.getMessage().contains("closed"), ex.getMessage());
    }
}
