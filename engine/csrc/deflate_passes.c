/*
 * libdeflate's compressor, built a second time under names of its own so that it links beside
 * the copy oxipng uses (the libdeflate-sys crate's), with one addition: a compressor whose
 * near-optimal parser (levels 10-12) runs at most a given number of passes.
 *
 * libdeflate/ holds libdeflate 1.26's files as the libdeflate-sys 1.26.1 crate ships them (MIT
 * licence: libdeflate/COPYING), with one change: where AVX2 is available (build.rs defines it when
 * the crate is built for it), deflate_find_min_cost_path() costs a node's match lengths 8 at a
 * time (slimage_min_cost_matches(), under SLIMAGE_AVX2_MIN_COST_PATH) and makes the same choices
 * as libdeflate's loop: the same streams byte for byte, in a tenth to a quarter less time on the
 * corpus PNGs' image data. See engine/src/deflate.rs for why the copy exists.
 */
#define libdeflate_alloc_compressor slimage_libdeflate_alloc_compressor
#define libdeflate_alloc_compressor_ex slimage_libdeflate_alloc_compressor_ex
#define libdeflate_deflate_compress slimage_libdeflate_deflate_compress
#define libdeflate_deflate_compress_bound slimage_libdeflate_deflate_compress_bound
#define libdeflate_free_compressor slimage_libdeflate_free_compressor
#define libdeflate_get_compression_level slimage_libdeflate_get_compression_level
#define libdeflate_default_malloc_func slimage_libdeflate_default_malloc_func
#define libdeflate_default_free_func slimage_libdeflate_default_free_func
#define libdeflate_aligned_malloc slimage_libdeflate_aligned_malloc
#define libdeflate_aligned_free slimage_libdeflate_aligned_free
#define libdeflate_set_memory_allocator slimage_libdeflate_set_memory_allocator
#define libdeflate_assertion_failed slimage_libdeflate_assertion_failed

#if defined(__AVX2__)
#define SLIMAGE_AVX2_MIN_COST_PATH 1
#endif

#include "libdeflate/lib/utils.c"
#include "libdeflate/lib/deflate_compress.c"

/*
 * A compressor at `level` whose near-optimal parser runs at most `passes` passes (level 11 runs
 * 4, 10 runs 2); levels below 10 do not use that parser and are left as they are.
 */
struct libdeflate_compressor *
slimage_deflate_alloc(int level, unsigned passes)
{
	struct libdeflate_compressor *c = libdeflate_alloc_compressor(level);

#if SUPPORT_NEAR_OPTIMAL_PARSING
	if (c != NULL && level >= 10 && passes > 0)
		c->p.n.max_optim_passes = passes;
#endif
	return c;
}
