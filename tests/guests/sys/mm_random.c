/*
 * mm_random.c - random read-modify-writes over a large array whose pages are
 * mapped onto physical frames in a scrambled order (a workload for shadow
 * paging / host-MMU paths that must scale with the guest's working set).
 *
 *   - Paging on: RAM (up to 1 GiB) is identity mapped with 4 KiB pages
 *     (supervisor, writable, CR0.WP set), and an array of MIB
 *     MiB is mapped at ARRAY_VA (0x40000000) onto frames drawn in a random
 *     order (a partial Fisher-Yates shuffle) from all the free RAM above
 *     the kernel, so that the linear->physical map is not contiguous.
 *   - Every page is initialised (a 4 KiB template copied with REP MOVSB
 *     plus a per-page word 0), then the timed loop does ITERS random
 *     read-modify-writes a[i] = a[i] * K + j with an LCG index, between the
 *     lines "-- begin timed loop" and "-- end timed loop" (bench/shadow.py
 *     timestamps them as they arrive on the serial port).
 *   - Checked afterwards by routes that do not go through the array's
 *     mapping: a model replays the LCG and recomputes every 64th word
 *     (SAMPLE_*) from its initial value; every page is compared with its
 *     frame read through the identity map; every array PTE must still point
 *     at its frame, now with A and D set; the checksum (FNV-1a over all the
 *     words) is computed through the identity map, frame by frame in array
 *     order.  It depends only on mib, iters and seed, not on timing or the
 *     RAM size, and the native build of the same kernel
 *     (bench/guests/mm_random_native.c) prints the same value.
 *
 * Command line (words of the multiboot command line):
 *   mib=N       array size in MiB (default 6; "mib=max": three quarters of
 *               the free RAM above the kernel, rounded down to a MiB)
 *   iters=N     read-modify-writes in the timed loop (default 40000)
 *   seed=N      LCG seed (default 1)
 * e.g. vmm -m 128 -kernel mm_random.elf -append "mib=96 iters=50000000".
 *
 * Physical memory below 4 MiB belongs to the kernel image (mm_common.h); the
 * page directory, page tables and bookkeeping arrays come from RAM above
 * it, the array's frames from what is left.  The ctest runs use -m 16 (see
 * VMM_SYS_GUEST_MEMORY in ../CMakeLists.txt).
 */
#include "mm_common.h"

#define ARRAY_VA    0x40000000u
/* The identity map must stay below ARRAY_VA. */
#define RAM_CAP     ARRAY_VA
#define SAMPLE_SHIFT 6          /* the model follows word i when (i & 63) == SAMPLE_OFF */
#define SAMPLE_OFF  37u

static uint32_t *pd;

static uint32_t tmpl[1024];

static uint32_t initial_value(uint32_t i)
{
    return (i & 1023) ? tmpl[i & 1023] : mm_mix(i >> 10) ^ 0xa5a5a5a5u;
}

int guest_main(void)
{
    sys_init();
    mm_init(RAM_CAP);

    uint32_t mib = mm_arg("mib", 6);
    uint32_t iters = mm_arg("iters", 40000);
    uint32_t seed = mm_arg("seed", 1);
    if (mib == MM_ARG_MAX)
        mib = (mm_top - MM_FREE_BASE) / 4 * 3 >> 20;
    if (mib == 0 || mib > 768)
        sys_fatal("mib=%u out of range (1..768)", mib);
    uint32_t npages = mib << 8, nwords = mib << 18;
    printf("mm_random: %u MiB at 0x%08x in scrambled frames, %u iterations, seed %u\n", mib, ARRAY_VA, iters,
           seed);

    /* Page directory and identity map. */
    pd = mm_palloc(1);
    for (uint32_t a = 0; a < mm_top; a += 4096)
        *mm_pte(pd, a) = a | PTE_P | PTE_W;
    /* Bookkeeping: the model of the sampled words, the array's page tables,
     * and the list of free frames (sized for every frame above the kernel). */
    uint32_t nsamples = nwords >> SAMPLE_SHIFT;
    uint32_t *model = mm_palloc((nsamples * 4 + 4095) / 4096);
    for (uint32_t p = 0; p < npages; p += 1024)
        (void)mm_pte(pd, ARRAY_VA + p * 4096);
    uint32_t maxframes = (mm_top - MM_FREE_BASE) / 4096;
    uint32_t *frames = mm_palloc((maxframes * 4 + 4095) / 4096);
    uint32_t nfree = (mm_top - mm_bump) / 4096;
    if (npages > nfree)
        sys_fatal("mib=%u does not fit: %u free frames for %u pages", mib, nfree, npages);
    for (uint32_t k = 0; k < nfree; k++)
        frames[k] = mm_bump + k * 4096;
    /* Partial Fisher-Yates: frames[0..npages) become a random selection in a
     * random order. */
    uint32_t r = 0x2545f491u;
    for (uint32_t k = 0; k < npages; k++) {
        r ^= r << 13;
        r ^= r >> 17;
        r ^= r << 5;
        uint32_t j = k + mm_scale(r, nfree - k);
        uint32_t t = frames[k];
        frames[k] = frames[j];
        frames[j] = t;
    }
    uint32_t contiguous = 0;
    for (uint32_t p = 0; p < npages; p++) {
        *mm_pte(pd, ARRAY_VA + p * 4096) = frames[p] | PTE_P | PTE_W;
        if (p && frames[p] == frames[p - 1] + 4096)
            contiguous++;
    }
    check_detail("linear->physical map of the array is scrambled", contiguous <= npages / 64,
                 "%u of %u neighbouring pages in consecutive frames", contiguous, npages);

    pg_enable(pd);
    write_cr0(read_cr0() | CR0_WP);
    check("paging enabled", (read_cr0() & CR0_PG) != 0);

    /* Initialise every page: a template and a per-page word 0. */
    for (int w = 0; w < 1024; w++)
        tmpl[w] = mm_mix((uint32_t)w + 0x1234567u);
    uint32_t *a = (uint32_t *)ARRAY_VA;
    for (uint32_t p = 0; p < npages; p++) {
        memcpy(a + p * 1024, tmpl, 4096);
        a[p * 1024] = initial_value(p * 1024);
    }
    for (uint32_t s = 0; s < nsamples; s++)
        model[s] = initial_value((s << SAMPLE_SHIFT) | SAMPLE_OFF);

    printf("-- begin timed loop\n");
    uint32_t x = mm_random_work(a, nwords, iters, seed);
    printf("-- end timed loop\n");

    /* The model: replay the index stream, follow the sampled words. */
    uint32_t y = seed;
    for (uint32_t j = 0; j < iters; j++) {
        y = mm_lcg(y);
        uint32_t i = mm_scale(y, nwords);
        if ((i & ((1u << SAMPLE_SHIFT) - 1)) == SAMPLE_OFF)
            model[i >> SAMPLE_SHIFT] = model[i >> SAMPLE_SHIFT] * MM_K_MUL + j;
    }
    uint32_t bad = 0, first_bad = 0;
    for (uint32_t s = 0; s < nsamples; s++) {
        uint32_t i = (s << SAMPLE_SHIFT) | SAMPLE_OFF;
        if (a[i] != model[s] && bad++ == 0)
            first_bad = i;
    }
    check_detail("sampled words (every 64th) agree with the model", bad == 0,
                 "%u of %u differ, the first at word %u: 0x%x, model 0x%x", bad, nsamples, first_bad,
                 a[first_bad], model[first_bad >> SAMPLE_SHIFT]);
    check_eq("final LCG state agrees with the model", x, y);

    /* Through the identity map, frame by frame. */
    bad = 0;
    uint32_t pte_bad = 0, sum = MM_FNV_INIT;
    for (uint32_t p = 0; p < npages; p++) {
        const uint32_t *frame = (const uint32_t *)frames[p];
        if (memcmp(a + p * 1024, frame, 4096) != 0 && bad++ == 0)
            first_bad = p;
        uint32_t pte = *mm_pte(pd, ARRAY_VA + p * 4096);
        if (pte != (frames[p] | PTE_P | PTE_W | PTE_A | PTE_D))
            pte_bad++;
        sum = mm_hash_page(sum, frame);
    }
    check_detail("every array page reads the same through its frame's identity mapping", bad == 0,
                 "%u of %u pages differ, the first is page %u", bad, npages, first_bad);
    check_detail("every array PTE points at its frame with A and D set", pte_bad == 0, "%u of %u PTEs differ",
                 pte_bad, npages);
    printf("checksum 0x%08x\n", sum);
    sys_finish();
}
