# inline.cmake — makes one self-contained HTML page (run with cmake -P):
#   -DIN=page.html -DOUT=page.gen.html
# every line `<link rel="stylesheet" href="F">` of IN becomes `<style>`, the
# bytes of F (beside IN), `</style>`; every `<script src="F"></script>`
# becomes `<script>`, the bytes of F, `</script>`. Nothing else changes, so
# the page needs no other request (the reporter serves only `/`).
get_filename_component(dir "${IN}" DIRECTORY)
file(READ "${IN}" page)
foreach(kind css js)
  if(kind STREQUAL "css")
    set(rx "<link rel=\"stylesheet\" href=\"([^\"]+)\">")
    set(open "<style>\n")
    set(close "</style>")
  else()
    set(rx "<script src=\"([^\"]+)\"></script>")
    set(open "<script>\n")
    set(close "</script>")
  endif()
  string(REGEX MATCHALL "${rx}" tags "${page}")
  foreach(tag IN LISTS tags)
    string(REGEX REPLACE "${rx}" "\\1" name "${tag}")
    if(NOT EXISTS "${dir}/${name}")
      message(FATAL_ERROR "inline.cmake: ${IN} names ${name}, which is not beside it")
    endif()
    file(READ "${dir}/${name}" body)
    string(REPLACE "${tag}" "${open}${body}${close}" page "${page}")
  endforeach()
endforeach()
file(WRITE "${OUT}.tmp" "${page}")
file(COPY_FILE "${OUT}.tmp" "${OUT}" ONLY_IF_DIFFERENT)
