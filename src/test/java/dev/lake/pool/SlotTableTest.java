package dev.lake.pool;

import org.junit.jupiter.api.Test;

import java.util.BitSet;

import static org.junit.jupiter.api.Assertions.*;

/** The layout of per-slot bookkeeping. */
class SlotTableTest
{
    @Test
    void spreadingIsABijectionThatKeepsNeighboursOffEachOthersCacheLines()
    {
        final int slots = 1 << 12;
        final SlotTable table = new SlotTable("t", slots, true);
        final BitSet seen = new BitSet(slots);
        for (int slot = 0; slot < slots; slot++)
        {
            final int at = table.at(slot);
            assertTrue(at >= 0 && at < slots, "in range");
            assertFalse(seen.get(at), "no two slots share an entry");
            seen.set(at);
        }
        for (int slot = 0; slot + 1 < slots; slot++)
        {
            for (int neighbour = slot + 1; neighbour < Math.min(slots, slot + 16); neighbour++)
            {
                // 8 longs (meta) per 64-byte line: neighbours within 16 slots never share one
                assertNotEquals(table.at(slot) >>> 3, table.at(neighbour) >>> 3, slot + " and " + neighbour);
            }
        }
    }

    @Test
    void withoutSpreadingOrForSmallOrOddSizesTheLayoutIsTheIdentity()
    {
        for (final SlotTable table : new SlotTable[] {
            new SlotTable("plain", 1 << 12), new SlotTable("small", 64, true), new SlotTable("odd", 1000, true)})
        {
            for (int slot = 0; slot < Math.min(table.size(), 1000); slot++)
            {
                assertEquals(slot, table.at(slot));
            }
        }
    }

    @Test
    void aSpreadTableKeepsGenerationsAndCountsPerSlot()
    {
        final SlotTable table = new SlotTable("t", 1 << 10, true);
        final long g0 = table.occupy(0);
        final long g1 = table.occupy(1);
        table.retain(1, g1);
        assertEquals(1, table.references(0));
        assertEquals(2, table.references(1));
        assertTrue(table.release(0, g0));
        assertFalse(table.release(1, g1));
        assertEquals(0, table.references(0));
        assertEquals(1, table.references(1));
        assertEquals(2, table.sum(SlotTable.ALLOCS));
        assertEquals(1, table.sum(SlotTable.FREES));
        assertNotEquals(g0, table.occupy(0), "a freed slot comes back with a new generation");
    }
}
