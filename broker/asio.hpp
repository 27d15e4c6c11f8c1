#pragma once
// The one place Asio is included from. Boost 1.74's asio/awaitable.hpp uses
// std::exchange without including <utility>; with g++ 12 in C++20 that fails to
// compile unless <utility> comes first.
#include <utility>

#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace ballast {
namespace net = boost::asio;
template <class T>
using awaitable = boost::asio::awaitable<T>;
}  // namespace ballast
