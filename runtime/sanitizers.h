// Whether this build runs under AddressSanitizer (gcc's -fsanitize=address
// defines __SANITIZE_ADDRESS__; clang answers __has_feature). Code that
// hands host faults to the sanitizer, or lets its runtime through the
// sandbox, asks kAddressSanitizer.
#pragma once

namespace vmm {

#if defined(__SANITIZE_ADDRESS__)
inline constexpr bool kAddressSanitizer = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
inline constexpr bool kAddressSanitizer = true;
#else
inline constexpr bool kAddressSanitizer = false;
#endif
#else
inline constexpr bool kAddressSanitizer = false;
#endif

}  // namespace vmm
